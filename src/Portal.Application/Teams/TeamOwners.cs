using Microsoft.EntityFrameworkCore;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Teams;

namespace Portal.Application.Teams;

/// <summary>The rule that every team keeps an owner, for changing a member's role and removing a member.</summary>
internal static class TeamOwners
{
    public static async Task EnsureAnOwnerRemainsAsync(
        PortalDbContext db, Guid teamId, TeamMember member, bool staysOwner, CancellationToken ct)
    {
        if (member.Role == TeamRole.Owner && !staysOwner &&
            !await db.TeamMembers.AnyAsync(m => m.TeamId == teamId && m.Role == TeamRole.Owner && m.UserId != member.UserId, ct))
        {
            throw new ConflictException("A team needs at least one owner.");
        }
    }
}
