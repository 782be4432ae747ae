using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Teams;

namespace Portal.Application.Teams;

/// <summary>
/// The rules for changing a member's role and removing a member: every team keeps an owner, and a team owner cannot
/// demote or remove someone with more rights than their own (a platform admin).
/// </summary>
internal static class TeamOwners
{
    public static async Task EnsureMayChangeAsync(PortalDbContext db, Actor actor, TeamMember member, CancellationToken ct)
    {
        if (actor.IsPlatformAdmin)
        {
            return;
        }

        var isPlatformAdmin = await (
            from r in db.UserRoles
            join role in db.Roles on r.RoleId equals role.Id
            where r.UserId == member.UserId && role.Name == PlatformRoles.Admin
            select r).AnyAsync(ct);
        if (isPlatformAdmin)
        {
            throw new ForbiddenException("This member is a platform admin: only a platform admin may demote or remove them.");
        }
    }

    public static async Task EnsureAnOwnerRemainsAsync(
        PortalDbContext db, Guid teamId, TeamMember member, bool staysOwner, CancellationToken ct)
    {
        if (member.Role == TeamRole.Owner && !staysOwner &&
            !await db.TeamMembers.AnyAsync(m => m.TeamId == teamId && m.Role == TeamRole.Owner && m.UserId != member.UserId, ct))
        {
            throw new ConflictException("This is the team's last owner: make someone else an owner first, then change or remove this one.");
        }
    }
}
