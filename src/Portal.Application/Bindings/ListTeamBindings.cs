using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Bindings;

namespace Portal.Application.Bindings;

/// <summary>One of a team's bindings, with the instance it belongs to.</summary>
public sealed record TeamBindingView(Guid InstanceId, string InstanceName, string Offering, BindingView Binding);

/// <summary>
/// Every live binding of a team's instances, with its generation, next scheduled rotation and certificate expiry: the
/// team's credentials at a glance. Members of the team and platform admins; no secret is in it.
/// </summary>
public sealed class ListTeamBindingsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<IReadOnlyList<TeamBindingView>> HandleAsync(Actor actor, Guid teamId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireAsync(actor, teamId, TeamPermission.View, "Team", ct);
        var rows = await (from b in db.Bindings.AsNoTracking()
                          join i in db.Instances on b.InstanceId equals i.Id
                          join p in db.Plans on i.PlanId equals p.Id
                          join o in db.Offerings on p.OfferingId equals o.Id
                          where i.TeamId == teamId && b.State != BindingState.Deleted
                          orderby i.Name, b.AppName
                          select new { Binding = b, InstanceName = i.Name, Offering = o.Name, p.Limits }).ToListAsync(ct);
        return rows.Select(r => new TeamBindingView(r.Binding.InstanceId, r.InstanceName, r.Offering, r.Binding.ToView(r.Limits))).ToList();
    }
}
