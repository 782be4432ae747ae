using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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

/// <summary>Registers the recurring jobs under stable ids when a job server starts (idempotent).</summary>
internal sealed class RecurringJobsRegistration(
    IRecurringJobManager recurring, IOptions<LeaseOptions> leases, IOptions<Approvals.ApprovalOptions> approvals,
    IOptions<Backends.BackendHealthOptions> backendHealth, IOptions<Bindings.CertificateRenewalOptions> renewal,
    IOptions<Reconcile.ReconcileOptions> reconcile) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        recurring.AddOrUpdate<LeaseJob>(LeaseJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), leases.Value.Schedule);
        recurring.AddOrUpdate<Approvals.ApprovalDeadlinesJob>(
            Approvals.ApprovalDeadlinesJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), approvals.Value.Schedule);
        recurring.AddOrUpdate<Backends.BackendHealthJob>(
            Backends.BackendHealthJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), backendHealth.Value.Schedule);
        recurring.AddOrUpdate<Observability.LogRetentionJob>(
            Observability.LogRetentionJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), Cron.Hourly());
        recurring.AddOrUpdate<Bindings.RetireDueJob>(
            Bindings.RetireDueJob.RecurringJobId, job => job.SweepAsync(CancellationToken.None), Cron.Minutely());
        recurring.AddOrUpdate<Bindings.CertificateRenewalJob>(
            Bindings.CertificateRenewalJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), renewal.Value.Schedule);
        recurring.AddOrUpdate<Bindings.ScheduledRotationJob>(
            Bindings.ScheduledRotationJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), Cron.Hourly());
        recurring.AddOrUpdate<Reconcile.ReconcileJob>(
            Reconcile.ReconcileJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), reconcile.Value.Schedule);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
