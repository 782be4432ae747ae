using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Instances;
using Portal.Domain.Operations;

namespace Portal.Application.Reconcile;

/// <summary>
/// Repairs a Drifted instance through the normal operation path: a repair operation re-applies its resources and limits,
/// re-creates its bindings' missing credentials with the secrets they had, and removes credentials Portal does not know;
/// it never deletes data. Developers and owners of the team.
/// </summary>
public sealed class RepairInstanceHandler(IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, TimeProvider clock)
{
    public async Task<AcceptedChange<InstanceSummary>> HandleAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (instance, _) = await db.RequireInstanceAsync(actor, instanceId, TeamPermission.Deploy, ct);
        if (instance.State != InstanceState.Drifted)
        {
            throw new ConflictException($"Only a Drifted instance can be repaired; this one is {instance.State}.");
        }

        return await db.StartAsync(queue, actor, instance, OperationKind.Repair, InstanceState.Updating, "Repairing: waiting for a worker",
            clock.GetUtcNow(), ct);
    }
}
