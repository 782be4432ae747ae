using Hangfire;
using Microsoft.EntityFrameworkCore;
using Portal.Data;

namespace Portal.Application.Operations;

/// <summary>
/// Hands committed operations to the background workers. An operation is committed first (with its instance or
/// binding, in the request's transaction) and enqueued after; if the process dies in between, the
/// <see cref="OperationSweeper"/> enqueues it, so nothing accepted is lost.
/// </summary>
public sealed class OperationQueue(IBackgroundJobClient jobs, IDbContextFactory<PortalDbContext> dbFactory)
{
    public const string DefaultQueue = "default";

    /// <summary>
    /// Enqueues the operation's job and records its id. Takes no cancellation token on purpose: the operation is
    /// committed, and a request whose client went away must still hand it over.
    /// </summary>
    public async Task EnqueueAsync(Guid operationId)
    {
        await using var db = await dbFactory.CreateDbContextAsync(CancellationToken.None);
        var queue = await QueueOfAsync(db, operationId, CancellationToken.None);
        var jobId = jobs.Enqueue<OperationJob>(queue, job => job.RunAsync(operationId, CancellationToken.None));
        // Unless the job has already run and scheduled its retry under a newer id.
        await db.Operations.Where(o => o.Id == operationId && o.JobId == null)
            .ExecuteUpdateAsync(s => s.SetProperty(o => o.JobId, jobId), CancellationToken.None);
    }

    /// <summary>The queue of the backend the operation's instance lives on (its worker runs beside it), or the default.</summary>
    public static async Task<string> QueueOfAsync(PortalDbContext db, Guid operationId, CancellationToken ct) =>
        await (from o in db.Operations
               where o.Id == operationId
               join i in db.Instances on o.InstanceId equals i.Id
               join b in db.Backends on i.BackendId equals b.Id
               select b.WorkerQueue).FirstOrDefaultAsync(ct) ?? DefaultQueue;
}
