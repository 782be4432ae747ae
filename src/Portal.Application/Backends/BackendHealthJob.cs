using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Portal.Data;
using Portal.Data.Security;
using Portal.Provisioning;

namespace Portal.Application.Backends;

/// <summary>
/// Recurring: tests every backend with its admin credentials and records the outcome, so the admin page
/// shows current health and placement skips backends that are down.
/// </summary>
public sealed class BackendHealthOptions
{
    /// <summary>Cron schedule of the check (Backends:HealthSchedule); every five minutes by default.</summary>
    public string HealthSchedule { get; set; } = "*/5 * * * *";
}

public sealed class BackendHealthJob(
    IDbContextFactory<PortalDbContext> dbFactory, BackendEndpoints endpoints, DriverRegistry drivers, TimeProvider clock,
    ILogger<BackendHealthJob> logger)
{
    public const string RecurringJobId = "backend-health";

    public async Task RunAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        foreach (var backend in await db.Backends.ToListAsync(ct))
        {
            if (drivers.Find(backend.Kind) is not { } driver)
            {
                continue;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            HealthReport report;
            try
            {
                report = await driver.TestBackendAsync(await endpoints.ForAsync(backend, timeout.Token), timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                report = new HealthReport(false, "No answer within 30 seconds.");
            }

            if (backend.LastCheckHealthy != report.Healthy)
            {
                logger.Log(report.Healthy ? LogLevel.Information : LogLevel.Warning,
                    "Backend {Backend} is now {Health}: {Message}", backend.Name, report.Healthy ? "healthy" : "unhealthy", report.Message);
            }

            backend.LastCheckHealthy = report.Healthy;
            backend.LastCheckMessage = report.Message.Length > 1000 ? report.Message[..1000] : report.Message;
            backend.LastCheckedAt = clock.GetUtcNow();
        }

        await db.SaveChangesAsync(ct);
    }
}
