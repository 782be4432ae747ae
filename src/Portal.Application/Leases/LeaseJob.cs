using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Application.Notifications;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Instances;
using Portal.Domain.Operations;

namespace Portal.Application.Leases;

/// <summary>Settings of the lease job (section <c>Leases</c>).</summary>
public sealed class LeaseOptions
{
    /// <summary>How long before the end of a lease the team is warned.</summary>
    public TimeSpan WarnBefore { get; set; } = TimeSpan.FromDays(3);

    /// <summary>Cron schedule of <see cref="LeaseJob"/>.</summary>
    public string Schedule { get; set; } = "*/5 * * * *";
}

/// <summary>
/// Recurring: warns teams whose leases end soon, and deprovisions instances whose lease has ended —
/// through the normal operation path, so it is audited, retried and shown like any deletion.
/// </summary>
[AutomaticRetry(Attempts = 0)]
[DisableConcurrentExecution(timeoutInSeconds: 60)]
public sealed class LeaseJob(
    IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, Webhooks.WebhookPublisher webhooks, IOptions<LeaseOptions> options,
    TimeProvider clock, ILogger<LeaseJob> logger)
{
    public const string RecurringJobId = "lease-expiry";

    public async Task RunAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(ct);

        var warnFrom = now + options.Value.WarnBefore;
        var expiring = await db.Instances
            .Where(i => i.ExpiresAt != null && i.ExpiresAt > now && i.ExpiresAt <= warnFrom && i.ExpiryWarnedAt == null
                        && (i.State == InstanceState.Ready || i.State == InstanceState.Degraded || i.State == InstanceState.Drifted))
            .ToListAsync(ct);
        foreach (var instance in expiring)
        {
            instance.MarkExpiryWarned(now);
            db.Notification(instance.CreatedBy, now, $"The lease of {instance.Name} ends soon",
                $"It is deprovisioned at {instance.ExpiresAt:yyyy-MM-dd HH:mm} UTC unless a team owner extends it.", $"/instances/{instance.Id}");
            db.Audit(Actor.System, now, "instance.lease-expiring", "instance", instance.Id, instance.TeamId,
                $"{instance.Name} is deprovisioned at {instance.ExpiresAt:yyyy-MM-dd HH:mm} UTC unless its lease is extended");
        }

        await db.SaveChangesAsync(ct);
        foreach (var instance in expiring)
        {
            await webhooks.PublishAsync(Portal.Domain.Webhooks.WebhookEvents.LeaseExpiring, instance.TeamId,
                new { instanceId = instance.Id, instance.Name, expiresAt = instance.ExpiresAt }, ct);
        }

        var expiredIds = await db.Instances
            .Where(i => i.ExpiresAt != null && i.ExpiresAt <= now
                        && (i.State == InstanceState.Ready || i.State == InstanceState.Degraded || i.State == InstanceState.Drifted || i.State == InstanceState.Failed))
            .Select(i => i.Id)
            .ToListAsync(ct);
        foreach (var id in expiredIds)
        {
            await using var instanceDb = await dbFactory.CreateDbContextAsync(ct);
            var instance = await instanceDb.Instances.FirstAsync(i => i.Id == id, ct);
            try
            {
                instanceDb.Audit(Actor.System, now, "instance.lease-expired", "instance", instance.Id, instance.TeamId, instance.Name);
                await instanceDb.StartAsync(queue, Actor.System, instance, OperationKind.Deprovision, InstanceState.Deprovisioning,
                    "The lease has ended", now, ct);
            }
            catch (PortalException e)
            {
                // Busy with another operation: the next run tries again.
                logger.LogInformation("Lease of {Instance} ended, deprovisioning waits: {Reason}", instance.Id, e.Message);
            }
        }
    }
}
