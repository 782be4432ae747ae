using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Portal.Data;
using Portal.Domain.Instances;

namespace Portal.Application.Reconcile;

/// <summary>Settings of reconcile, from the <c>Reconcile</c> section.</summary>
public sealed class ReconcileOptions
{
    /// <summary>Cron schedule of <see cref="ReconcileJob"/> (Reconcile:Schedule); every five minutes by default.</summary>
    public string Schedule { get; set; } = "*/5 * * * *";
}

/// <summary>
/// Recurring, level-triggered: reconciles every Ready and Drifted instance (<see cref="ReconcileRun"/>), so drift is found
/// within one run of a change made by hand on a backend, and a drift that was undone by hand is cleared.
/// </summary>
public sealed class ReconcileJob(IDbContextFactory<PortalDbContext> dbFactory, ReconcileRun run, ILogger<ReconcileJob> logger)
{
    public const string RecurringJobId = "reconcile";

    public async Task<int> RunAsync(CancellationToken ct)
    {
        List<Guid> ids;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            ids = await db.Instances.Where(i => i.State == InstanceState.Ready || i.State == InstanceState.Drifted)
                .OrderBy(i => i.ReconciledAt).Select(i => i.Id).ToListAsync(ct);
        }

        var drifted = 0;
        foreach (var id in ids)
        {
            try
            {
                var outcome = await run.RunAsync(id, null, ct);
                drifted += outcome.State == nameof(InstanceState.Drifted) ? 1 : 0;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One instance's trouble (a driver that cannot observe, a bad record) must not stop the others.
                logger.LogWarning(e, "Reconciling instance {InstanceId} failed", id);
            }
        }

        logger.LogInformation("Reconciled {Count} instances; {Drifted} drifted", ids.Count, drifted);
        return drifted;
    }
}
