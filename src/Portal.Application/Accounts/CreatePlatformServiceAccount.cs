using Microsoft.AspNetCore.Identity;
using OpenIddict.Abstractions;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Teams;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Accounts;

public sealed record CreatePlatformServiceAccount(string Name);

/// <summary>
/// A service account with the platform-admin role and no team, for the platform team's own automation
/// (registering backends, managing offerings and accounts through the API). Platform admins only.
/// </summary>
public sealed class CreatePlatformServiceAccountHandler(
    UserManager<PortalUser> users, IOpenIddictApplicationManager applications, AuditWriter audit, TimeProvider clock)
{
    public async Task<ServiceAccountCreated> HandleAsync(Actor actor, CreatePlatformServiceAccount request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        var name = request.Name?.Trim() ?? "";
        new Validator().Input(request).Require(name.Length is >= 2 and <= 60, "name", "Give the service account a name of 2 to 60 characters.").ThrowIfInvalid();
        var created = await ServiceAccountFactory.CreateAsync(applications, name, "platform", PlatformRoles.Admin, clock.GetUtcNow(), async user =>
        {
            IdentityResults.Check(await users.CreateAsync(user));
            IdentityResults.Check(await users.AddToRoleAsync(user, PlatformRoles.Admin));
        }, ct);
        await audit.WriteAsync(actor, "account.platform-service-account-created", "account", created.UserId, details: created.ClientId, ct: ct);
        return created;
    }
}
