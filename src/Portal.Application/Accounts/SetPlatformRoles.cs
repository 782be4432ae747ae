using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Accounts;

/// <summary>Sets an account's platform roles (platform-admin, approver). Platform admins only.</summary>
public sealed class SetPlatformRolesHandler(UserManager<PortalUser> users, AuditWriter audit)
{
    public async Task<UserView> HandleAsync(Actor actor, Guid userId, IReadOnlyCollection<string> roles, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Input(roles, "platformRoles")
            .Require(roles.All(PlatformRoles.All.Contains), "platformRoles", $"Platform roles are {string.Join(", ", PlatformRoles.All)}.")
            .Require(userId != actor.UserId || roles.Contains(PlatformRoles.Admin), "platformRoles", "You cannot take your own platform-admin role.")
            .ThrowIfInvalid();
        var user = await users.FindByIdAsync(userId.ToString()) ?? throw new NotFoundException("Account");
        var current = await users.GetRolesAsync(user);
        IdentityResults.Check(await users.RemoveFromRolesAsync(user, current.Except(roles)));
        IdentityResults.Check(await users.AddToRolesAsync(user, roles.Except(current)));
        await audit.WriteAsync(actor, "account.roles-set", "account", user.Id, details: $"{user.Email ?? user.UserName}: {string.Join(", ", roles)}", ct: ct);
        return new UserView(user.Id, user.Email ?? "", user.DisplayName, roles.Contains(PlatformRoles.Admin), user.CreatedAt, user.ClientId)
        {
            IsApprover = roles.Contains(PlatformRoles.Approver),
        };
    }
}
