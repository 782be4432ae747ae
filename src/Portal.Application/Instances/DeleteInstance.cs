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

        return await db.StartAsync(queue, actor, instance, OperationKind.Deprovision, InstanceState.Deprovisioning,
            "Waiting for a worker", clock.GetUtcNow(), ct);
    }
}
