using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Operations;

namespace Portal.Application.Operations;

/// <param name="Reason">Why the operator ends it; shown to the team as the failure's reason.</param>
public sealed record FailOperation([Text(500, MultiLine = true)] string Reason);

/// <summary>
/// An operator's way out: ends an unfinished operation as Failed with a reason, as if its job had given up (the
/// instance or binding becomes Failed, which its team may retry). Refused while a worker runs it. Platform admins; audited.
/// </summary>
public sealed class FailOperationHandler(IDbContextFactory<PortalDbContext> dbFactory, Webhooks.WebhookPublisher webhooks, TimeProvider clock, Telemetry.PortalMetrics metrics)
{
    public async Task<OperationView> HandleAsync(Actor actor, Guid operationId, FailOperation request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        var reason = request.Reason?.Trim() ?? "";
        new Validator()
            .Input(request)
            .Require(reason.Length is >= 3 and <= 500, "reason", "Say why, in 3 to 500 characters: the team reads it.")
            .ThrowIfInvalid();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var operation = await db.Operations.FirstOrDefaultAsync(o => o.Id == operationId, ct) ?? throw new NotFoundException("Operation");
        if (operation.IsFinished)
        {
            throw new ConflictException($"The operation has finished ({operation.State}).");
        }

        // Held until the end: no job starts it meanwhile (a job that finds it Failed returns).
        await using var instanceLock = await InstanceLock.TryAcquireAsync(db, operation.InstanceId, ct)
            ?? throw new ConflictException("The operation is running on a worker now; wait for it to finish or fail.");
        await db.Entry(operation).ReloadAsync(ct);
        if (operation.IsFinished)
        {
            throw new ConflictException($"The operation has finished ({operation.State}).");
        }

        var error = $"{OperationErrors.FailedByAdminPrefix}{actor.Name}): {reason}";
        var instance = await OperationFailure.RecordAsync(db, operation, error, teamMessage: error, actor, clock.GetUtcNow(), ct);
        db.OperationLines.Add(new OperationLine { OperationId = operation.Id, At = clock.GetUtcNow(), Message = error });
        await db.SaveOrConflictAsync("The operation changed at the same moment; reload and try again.", ct);
        metrics.OperationFinished(operation, await Telemetry.PortalMetrics.OfferingOfAsync(db, operation.InstanceId, ct));
        await OperationFailure.PublishAsync(webhooks, operation, instance, error, ct);
        return OperationMapping.ToView(operation, actor);
    }
}
