using Hangfire;
using Microsoft.EntityFrameworkCore;
using Portal.Data;

namespace Portal.Application.Operations;

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
