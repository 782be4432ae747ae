using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Portal.Application.Backends;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Instances;
using Portal.Provisioning;

namespace Portal.Application.Observability;

/// <summary>
/// Recurring: applies each log stream's retention (the plan's <c>retentionDays</c>) through its driver, and
/// prunes each collector's quarantine (messages without a valid token) after <see cref="QuarantineDays"/>.
/// </summary>
public sealed class LogRetentionJob(
    IDbContextFactory<PortalDbContext> dbFactory, Backends.BackendEndpoints endpoints, DriverRegistry drivers, ILogger<LogRetentionJob> logger)
{
    public const string RecurringJobId = "log-retention";

    public const int QuarantineDays = 7;

    public async Task RunAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var kinds = drivers.Kinds.Where(k => drivers.Find(k) is ILogStreamDriver).ToList();
        var streams = await (from i in db.Instances.AsNoTracking()
                             join p in db.Plans on i.PlanId equals p.Id
                             join b in db.Backends on i.BackendId equals b.Id
                             where kinds.Contains(b.Kind) && (i.State == InstanceState.Ready || i.State == InstanceState.Degraded || i.State == InstanceState.Drifted)
                             select new { i.Id, i.Name, p.Limits, Backend = b }).ToListAsync(ct);
        foreach (var stream in streams)
        {
            var driver = (ILogStreamDriver)drivers.Get(stream.Backend.Kind);
            var context = new InstanceContext(stream.Id, await endpoints.ForAsync(stream.Backend, ct), stream.Limits, new Progress<string>());
            try
            {
                var removed = await driver.ApplyRetentionAsync(context, ct);
                if (removed > 0)
                {
                    logger.LogInformation("Retention removed {Count} old files of log stream {Instance}", removed, stream.Name);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One stream's trouble (e.g. its collector's host is down) must not stop the others.
                logger.LogWarning(e, "Retention of log stream {Instance} failed", stream.Name);
            }
        }

        foreach (var backend in await db.Backends.AsNoTracking().Where(b => kinds.Contains(b.Kind)).ToListAsync(ct))
        {
            try
            {
                var driver = (ILogStreamDriver)drivers.Get(backend.Kind);
                await driver.ApplyQuarantineRetentionAsync(await endpoints.ForAsync(backend, ct), QuarantineDays, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Pruning the quarantine of collector {Backend} failed", backend.Name);
            }
        }
    }
}
