using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Teams;

/// <summary>The teams the actor belongs to (all teams for platform admins), with the actor's role.</summary>
public sealed class ListTeamsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<IReadOnlyList<TeamSummary>> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var teams = await db.Teams
            .VisibleTo(db, actor, t => t.Id)
            .OrderBy(t => t.Name)
            .Select(t => new
            {
                t.Id,
                t.Slug,
                t.Name,
                Role = t.Members.Where(m => m.UserId == actor.UserId).Select(m => (TeamRole?)m.Role).FirstOrDefault(),
                Count = t.Members.Count,
            })
            .ToListAsync(ct);
        return teams.Select(t => new TeamSummary(t.Id, t.Slug, t.Name, t.Role?.ToWire(), t.Count)).ToList();
    }
}
