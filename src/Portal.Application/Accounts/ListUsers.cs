using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Accounts;

/// <summary>
/// People's local accounts and platform service accounts (team service accounts are listed with their
/// teams). Platform admins only.
/// </summary>
public sealed class ListUsersHandler(IDbContextFactory<PortalDbContext> dbFactory, UserManager<PortalUser> users)
{
    public async Task<IReadOnlyList<UserView>> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var admins = (await users.GetUsersInRoleAsync(PlatformRoles.Admin)).Select(u => u.Id).ToHashSet();
        var approvers = (await users.GetUsersInRoleAsync(PlatformRoles.Approver)).Select(u => u.Id).ToHashSet();
        var accounts = await db.Users.AsNoTracking()
            .Where(u => u.ClientId == null || !db.TeamMembers.Any(m => m.UserId == u.Id))
            .OrderBy(u => u.ClientId != null).ThenBy(u => u.Email).ThenBy(u => u.UserName)
            .ToListAsync(ct);
        return accounts.Select(u => new UserView(u.Id, u.Email ?? "", u.DisplayName, admins.Contains(u.Id), u.CreatedAt, u.ClientId)
        {
            IsApprover = approvers.Contains(u.Id),
        }).ToList();
    }
}
