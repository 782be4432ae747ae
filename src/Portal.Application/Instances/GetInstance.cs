using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Bindings;

namespace Portal.Application.Instances;

/// <summary>One instance with its bindings and its recent operations and their progress lines.</summary>
public sealed class GetInstanceHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<InstanceDetails> HandleAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        // One snapshot for all the queries: read apart, they can straddle a worker's commit and show an instance still
        // Provisioning beside its operation already Succeeded, a state the database never held.
        await using var snapshot = await db.Database.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        var (_, role) = await db.RequireInstanceAsync(actor, instanceId, TeamPermission.View, ct);
        var summary = await db.Summaries(db.Instances.Where(i => i.Id == instanceId)).FirstAsync(ct);
        var bindings = await db.Bindings.AsNoTracking()
            .Where(b => b.InstanceId == instanceId && b.State != BindingState.Deleted)
            .OrderBy(b => b.CreatedAt)
            .ToListAsync(ct);
        var operations = await db.Operations.AsNoTracking()
            .Where(o => o.InstanceId == instanceId)
            .OrderByDescending(o => o.CreatedAt)
            .Take(20)
            .Include(o => o.Lines.OrderBy(l => l.Id))
            .AsSplitQuery()
            .ToListAsync(ct);
        var placement = await (from i in db.Instances
                               where i.Id == instanceId
                               join p in db.Plans on i.PlanId equals p.Id
                               join b in db.Backends on i.BackendId equals b.Id
                               select new { p.MaxLeaseDays, p.Limits, b.Site, i.Parameters, b.Kind, i.Drift, i.ReconciledAt }).FirstAsync(ct);
        return new InstanceDetails(
            summary,
            bindings.Select(b => Bindings.BindingMapping.ToView(b, placement.Limits)).ToList(),
            operations.Select(o => Operations.OperationMapping.ToView(o, actor)).ToList(),
            new InstancePermissions(role.Allows(TeamPermission.Deploy), role.Allows(TeamPermission.ReadSecrets), role.Allows(TeamPermission.ManageTeam)),
            placement.MaxLeaseDays, placement.Site, placement.Parameters, placement.Kind)
        {
            Drift = placement.Drift?.Split('\n') ?? [],
            ReconciledAt = placement.ReconciledAt,
        };
    }
}
