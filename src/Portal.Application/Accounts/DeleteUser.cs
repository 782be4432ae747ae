using Microsoft.AspNetCore.Identity;
using OpenIddict.Abstractions;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;

namespace Portal.Application.Accounts;

/// <summary>Deletes an account (a person or a service account, with its OIDC client). Platform admins only.</summary>
public sealed class DeleteUserHandler(UserManager<PortalUser> users, IOpenIddictApplicationManager applications, AuditWriter audit)
{
    public async Task HandleAsync(Actor actor, Guid userId, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        if (userId == actor.UserId)
        {
            throw new ConflictException("You cannot delete your own account.");
        }

        var user = await users.FindByIdAsync(userId.ToString()) ?? throw new NotFoundException("Account");
        if (user.ClientId is not null && await applications.FindByClientIdAsync(user.ClientId, ct) is { } app)
        {
            await applications.DeleteAsync(app, ct);
        }

        IdentityResults.Check(await users.DeleteAsync(user));
        await audit.WriteAsync(actor, "account.deleted", "account", user.Id, details: user.ClientId ?? user.Email, ct: ct);
    }
}
