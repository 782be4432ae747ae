using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portal.Application.Leases;

namespace Portal.Application.Jobs;

public static class RecurringJobs
{
    /// <summary>The recurring jobs, for a host that runs a job server.</summary>
    public static IHostApplicationBuilder AddPortalRecurringJobs(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHostedService<RecurringJobsRegistration>();
        return builder;
    }
}

/// <summary>
/// Registers the recurring jobs under stable ids when a job server starts (idempotent). It runs beside the server rather
/// than before it: a host killed while registering leaves Hangfire's lock behind for a minute, and the restarted host must
/// work its queues meanwhile, so it tries again until it succeeds.
/// </summary>
internal sealed class RecurringJobsRegistration(
    IRecurringJobManager recurring, IOptions<LeaseOptions> leases, IOptions<Approvals.ApprovalOptions> approvals,
    IOptions<Backends.BackendHealthOptions> backendHealth, IOptions<Bindings.CertificateRenewalOptions> renewal,
    IOptions<Reconcile.ReconcileOptions> reconcile, ILogger<RecurringJobsRegistration> logger) : BackgroundService
{
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                Register();
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Registering the recurring jobs failed; trying again in {Delay}", RetryAfter);
                await Task.Delay(RetryAfter, stoppingToken);
            }
        }
    }

    private void Register()
    {
        recurring.AddOrUpdate<LeaseJob>(LeaseJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), leases.Value.Schedule);
        recurring.AddOrUpdate<Approvals.ApprovalDeadlinesJob>(
            Approvals.ApprovalDeadlinesJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), approvals.Value.Schedule);
        recurring.AddOrUpdate<Backends.BackendHealthJob>(
            Backends.BackendHealthJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), backendHealth.Value.HealthSchedule);
        recurring.AddOrUpdate<Observability.LogRetentionJob>(
            Observability.LogRetentionJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), Cron.Hourly());
        recurring.AddOrUpdate<Bindings.RetireDueJob>(
            Bindings.RetireDueJob.RecurringJobId, job => job.SweepAsync(CancellationToken.None), Cron.Minutely());
        recurring.AddOrUpdate<Bindings.CertificateRenewalJob>(
            Bindings.CertificateRenewalJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), renewal.Value.RenewalSchedule);
        recurring.AddOrUpdate<Bindings.ScheduledRotationJob>(
            Bindings.ScheduledRotationJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), Cron.Hourly());
        recurring.AddOrUpdate<Reconcile.ReconcileJob>(
            Reconcile.ReconcileJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), reconcile.Value.Schedule);
    }
}
