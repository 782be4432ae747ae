using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Approvals;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Approvals;
using Portal.Domain.Instances;
using Portal.Domain.Operations;

namespace Portal.Application.Instances;

/// <summary>
/// Deletes an instance: a deprovision operation drops it and all its bindings from the backend.
/// Developers and owners of the team.
/// </summary>
public sealed class DeleteInstanceHandler(IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, TimeProvider clock)
{
    public async Task<AcceptedChange<InstanceSummary>> HandleAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (instance, _) = await db.RequireInstanceAsync(actor, instanceId, TeamPermission.Deploy, ct);
        if (!InstanceStateMachine.CanMove(instance.State, InstanceState.Deprovisioning))
        {
            throw new ConflictException($"An instance that is {instance.State} cannot be deleted now.");
        }

        var now = clock.GetUtcNow();
        var plan = await db.Plans.AsNoTracking().FirstAsync(p => p.Id == instance.PlanId, ct);
        if (instance.State != InstanceState.Failed && await db.GateAsync(actor, instance, ApprovalOperation.Delete, plan, now, ct) is { } approval)
        {
            db.Audit(actor, now, "instance.delete-requested", "instance", instance.Id, instance.TeamId, $"{instance.Name}: waits for approval");
            await db.SaveOrConflictAsync("The instance changed at the same moment; reload and try again.", ct);
            return new(await db.Summaries(db.Instances.Where(i => i.Id == instanceId)).FirstAsync(ct), null, approval.Id);
        }

        return await db.StartAsync(queue, actor, instance, OperationKind.Deprovision, InstanceState.Deprovisioning, "Waiting for a worker", now, ct);
    }
}
