using Hangfire;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Operations;

namespace Portal.Application.Operations;

public static class OperationMapping
{
    public static OperationView ToView(Operation o) => new(
        o.Id, o.InstanceId, o.BindingId, o.Kind.ToString(), o.State.ToString(), o.Attempts, o.Error,
        o.CreatedAt, o.StartedAt, o.FinishedAt, o.Lines.Select(l => new OperationLineView(l.At, l.Message)).ToList());

    /// <summary>One instance never has two operations at once: a new one waits until the last has finished.</summary>
    public static async Task RequireNoOperationRunningAsync(this PortalDbContext db, Guid instanceId, CancellationToken ct)
    {
        if (await db.Operations.AnyAsync(o => o.InstanceId == instanceId &&
                                              (o.State == OperationState.Queued || o.State == OperationState.Running), ct))
        {
            throw new ConflictException("Another operation on this instance is still running; try again when it has finished.");
        }
    }
}

/// <summary>Hands operations to the background workers.</summary>
public sealed class OperationQueue(IBackgroundJobClient jobs, IDbContextFactory<PortalDbContext> dbFactory)
{
    public const string DefaultQueue = "default";

    public async Task EnqueueAsync(Guid operationId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var queue = await QueueOfAsync(db, operationId, ct);
        var jobId = jobs.Enqueue<OperationJob>(queue, job => job.RunAsync(operationId, CancellationToken.None));
        await db.Operations.Where(o => o.Id == operationId).ExecuteUpdateAsync(s => s.SetProperty(o => o.JobId, jobId), ct);
    }

    /// <summary>The queue of the backend the operation's instance lives on (its worker runs beside it), or the default.</summary>
    public static async Task<string> QueueOfAsync(PortalDbContext db, Guid operationId, CancellationToken ct) =>
        await (from o in db.Operations
               where o.Id == operationId
               join i in db.Instances on o.InstanceId equals i.Id
               join b in db.Backends on i.BackendId equals b.Id
               select b.WorkerQueue).FirstOrDefaultAsync(ct) ?? DefaultQueue;
}

/// <summary>One operation with its progress, for its instance's team.</summary>
public sealed class GetOperationHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<OperationView> HandleAsync(Actor actor, Guid operationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var operation = await db.Operations.AsNoTracking()
            .Include(o => o.Lines.OrderBy(l => l.Id))
            .FirstOrDefaultAsync(o => o.Id == operationId, ct) ?? throw new NotFoundException("Operation");
        await db.RequireInstanceAsync(actor, operation.InstanceId, TeamPermission.View, ct);
        return OperationMapping.ToView(operation);
    }
}
