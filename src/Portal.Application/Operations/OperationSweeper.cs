using Hangfire;
using Hangfire.States;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portal.Data;
using Portal.Domain.Operations;

namespace Portal.Application.Operations;

/// <summary>
/// Every few seconds, on each host that runs workers: hands over again every unfinished operation that has no live
/// job — committed but never enqueued (the process died right after the commit), or whose job ended without finishing
/// it. (A job held by a dead worker comes back by itself: the storage's sliding invisibility timeout, see
/// <c>JobsExtensions</c>.) Jobs are re-entrant, so a job handed over twice does its work once.
/// </summary>
public sealed class OperationSweeper(
    IDbContextFactory<PortalDbContext> dbFactory, JobStorage storage, IBackgroundJobClient jobs, IOptions<OperationOptions> options,
    TimeProvider clock, ILogger<OperationSweeper> logger) : BackgroundService
{
    /// <summary>Hangfire states in which a job will still run.</summary>
    private static readonly HashSet<string> LiveStates =
        [EnqueuedState.StateName, ScheduledState.StateName, ProcessingState.StateName, AwaitingState.StateName];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval);
        do
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Sweeping for operations without a job failed; trying again in {Interval}", options.Value.SweepInterval);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One sweep; returns how many operations were handed over again.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        // One host sweeps at a time; the others skip this round.
        if (!await db.Database.SqlQuery<bool>($"SELECT pg_try_advisory_xact_lock({SweepLockKey}) AS \"Value\"").SingleAsync(ct))
        {
            return 0;
        }

        var enqueuedBefore = clock.GetUtcNow() - options.Value.EnqueueGrace;
        var unfinished = await db.Operations
            .Where(o => o.State == OperationState.Queued || o.State == OperationState.Running)
            .Select(o => new { o.Id, o.JobId, o.CreatedAt, o.State })
            .ToListAsync(ct);
        var handedOver = 0;
        using var connection = storage.GetConnection();
        foreach (var operation in unfinished)
        {
            string reason;
            if (operation.JobId is null)
            {
                if (operation.CreatedAt > enqueuedBefore)
                {
                    continue; // its request is still handing it over
                }

                reason = "it was accepted but never handed to a worker";
            }
            else
            {
                var state = connection.GetJobData(operation.JobId)?.State;
                if (state is not null && LiveStates.Contains(state))
                {
                    continue;
                }

                // The list above is older than this job state: a job that ended since then finished its operation first
                // (Hangfire records Succeeded after the job's transaction committed). Read the operation again, or a
                // busy sweep hands finished operations over again (seen as 52 of 200 in the cluster test).
                if (!await db.Operations.AnyAsync(o => o.Id == operation.Id && (o.State == OperationState.Queued || o.State == OperationState.Running), ct))
                {
                    continue;
                }

                reason = state is null ? "its job is gone" : $"its job ended ({state}) without finishing it";
            }

            var queue = await OperationQueue.QueueOfAsync(db, operation.Id, ct);
            var jobId = jobs.Enqueue<OperationJob>(queue, job => job.RunAsync(operation.Id, CancellationToken.None));
            await db.Operations.Where(o => o.Id == operation.Id).ExecuteUpdateAsync(s => s.SetProperty(o => o.JobId, jobId), ct);
            db.OperationLines.Add(new OperationLine
            {
                OperationId = operation.Id, At = clock.GetUtcNow(), Message = $"Handed to a worker again: {reason}",
            });
            logger.LogWarning("Operation {OperationId} ({State}) handed to a worker again: {Reason}", operation.Id, operation.State, reason);
            handedOver++;
        }

        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return handedOver;
    }

    private const long SweepLockKey = 0x706f7274616c_5357; // "portal" + "SW"
}
