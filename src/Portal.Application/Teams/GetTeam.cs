using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Teams;

public sealed class GetTeamHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<TeamDetails> HandleAsync(Actor actor, Guid teamId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireAsync(actor, teamId, TeamPermission.View, "Team", ct);
        var team = await db.Teams.AsNoTracking().FirstOrDefaultAsync(t => t.Id == teamId, ct)
            ?? throw new NotFoundException("Team");
        var members = await (
                from m in db.TeamMembers
                join u in db.Users on m.UserId equals u.Id
                where m.TeamId == teamId
                orderby m.Role descending, u.Email
                select new { m.UserId, u.Email, u.DisplayName, m.Role, u.ClientId })
            .ToListAsync(ct);
        var myRole = members.FirstOrDefault(m => m.UserId == actor.UserId)?.Role;
        return new TeamDetails(
            team.Id,
            team.Slug,
            team.Name,
            myRole?.ToWire(),
            members.Select(m => new TeamMemberView(
                m.UserId, m.Email ?? "", m.DisplayName, m.Role.ToWire(), m.ClientId != null, m.ClientId)).ToList());
    }
}
