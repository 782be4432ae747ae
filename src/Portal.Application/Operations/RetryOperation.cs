using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Operations;

namespace Portal.Application.Operations;

/// <summary>
/// An operator's way out: hands an unfinished operation to a worker again now (a new job; the job is re-entrant and
/// the drivers idempotent, so work already done is not done twice), with fresh attempts. Platform admins; audited.
/// </summary>
public sealed class RetryOperationHandler(IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, TimeProvider clock)
{
    public async Task<OperationView> HandleAsync(Actor actor, Guid operationId, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var operation = await db.Operations.FirstOrDefaultAsync(o => o.Id == operationId, ct) ?? throw new NotFoundException("Operation");
        if (operation.IsFinished)
        {
            throw new ConflictException($"The operation has finished ({operation.State}); retry its instance or binding instead.");
        }

        await using (var running = await InstanceLock.TryAcquireAsync(db, operation.InstanceId, ct))
        {
            if (running is null)
            {
                throw new ConflictException("The operation is running on a worker now; wait for it to finish or fail.");
            }
        }

        var now = clock.GetUtcNow();
        operation.State = OperationState.Queued;
        operation.Attempts = 0;
        operation.BackendUnreachableSince = null;
        operation.JobId = null;
        var instance = await db.Instances.AsNoTracking().FirstAsync(i => i.Id == operation.InstanceId, ct);
        db.OperationLines.Add(new OperationLine { OperationId = operation.Id, At = now, Message = $"Retried by {actor.Name}" });
        db.Audit(actor, now, "operation.retried", "operation", operation.Id, instance.TeamId, $"{operation.Kind} of {instance.Name}");
        await db.SaveOrConflictAsync("The operation changed at the same moment; reload and try again.", ct);
        await queue.EnqueueAsync(operation.Id);
        return OperationMapping.ToView(operation, actor);
    }
}
