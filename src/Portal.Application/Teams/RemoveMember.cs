using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Teams;

/// <summary>Removes a member (person or service account) from a team. Owners only.</summary>
public sealed class RemoveMemberHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task HandleAsync(Actor actor, Guid teamId, Guid userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireAsync(actor, teamId, TeamPermission.ManageTeam, "Team", ct);
        var member = await db.TeamMembers.FirstOrDefaultAsync(m => m.TeamId == teamId && m.UserId == userId, ct)
            ?? throw new NotFoundException("Member");
        await TeamOwners.EnsureMayChangeAsync(db, actor, member, ct);
        await TeamOwners.EnsureAnOwnerRemainsAsync(db, teamId, member, staysOwner: false, ct);
        db.TeamMembers.Remove(member);
        db.Audit(actor, clock.GetUtcNow(), "team.member-removed", "team", teamId, teamId, $"user {userId}");
        await db.SaveChangesAsync(ct);
    }
}
