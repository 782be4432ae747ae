using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Instances;
using Portal.Domain.Operations;

namespace Portal.Application.Instances;

internal static class InstanceOperations
{
    /// <summary>
    /// Starts an operation on an existing instance: moves it to <paramref name="moveTo"/>, records the
    /// operation in the same transaction, and hands it to a worker.
    /// </summary>
    public static async Task<AcceptedChange<InstanceSummary>> StartAsync(
        this PortalDbContext db, OperationQueue queue, Actor actor, Instance instance, OperationKind kind, InstanceState moveTo,
        string message, DateTimeOffset now, CancellationToken ct)
    {
        await db.RequireNoOperationRunningAsync(instance.Id, ct);
        instance.MoveTo(moveTo, now, message);
        var operation = new Operation { InstanceId = instance.Id, Kind = kind, RequestedBy = actor.UserId, CreatedAt = now };
        db.Operations.Add(operation);
        db.Audit(actor, now, $"instance.{kind.ToString().ToLowerInvariant()}-requested", "instance", instance.Id, instance.TeamId, instance.Name);
        await db.SaveOrConflictAsync("The change collides with another one; reload and try again.", ct);
        await queue.EnqueueAsync(operation.Id);
        return new(await db.Summaries(db.Instances.Where(i => i.Id == instance.Id)).FirstAsync(ct), operation.Id);
    }
}
