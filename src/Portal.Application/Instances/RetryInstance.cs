using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Instances;
using Portal.Domain.Operations;

namespace Portal.Application.Instances;

/// <summary>
/// Runs a Failed instance's failed operation again (provision, update or deprovision) — after the
/// platform team fixed the backend, say. Drivers are idempotent, so the retry finishes what was begun.
/// Developers and owners of the team.
/// </summary>
public sealed class RetryInstanceHandler(IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, TimeProvider clock)
{
    public async Task<AcceptedChange<InstanceSummary>> HandleAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (instance, _) = await db.RequireInstanceAsync(actor, instanceId, TeamPermission.Deploy, ct);
        if (instance.State != InstanceState.Failed)
        {
            throw new ConflictException($"Only a Failed instance can be retried; this one is {instance.State}.");
        }

        var failed = await db.Operations
            .Where(o => o.InstanceId == instanceId && o.BindingId == null && o.State == OperationState.Failed)
            .OrderByDescending(o => o.CreatedAt)
            .Select(o => (OperationKind?)o.Kind)
            .FirstOrDefaultAsync(ct) ?? OperationKind.Provision;
        var moveTo = failed switch
        {
            OperationKind.Deprovision => InstanceState.Deprovisioning,
            OperationKind.Update => InstanceState.Updating,
            _ => InstanceState.Provisioning,
        };
        return await db.StartAsync(queue, actor, instance, failed, moveTo, "Retrying: waiting for a worker", clock.GetUtcNow(), ct);
    }
}
