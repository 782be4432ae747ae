using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Instances;
using Portal.Application.Notifications;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Instances;
using Portal.Domain.Operations;
using Portal.Domain.Webhooks;
using Portal.Provisioning;

namespace Portal.Application.Reconcile;

/// <summary>The outcome of reconciling one instance.</summary>
/// <param name="Checked">False when it was skipped: an operation runs on it, or its backend did not answer.</param>
public sealed record ReconcileOutcome(bool Checked, string State, IReadOnlyList<string> Differences, string? Skipped = null);

/// <summary>
/// Reconciles one instance: observes it on the backend while no operation runs on it, records what differs, and moves it
/// Ready → Drifted (audited, webhook <c>instance.drifted</c>, the requester told) or Drifted → Ready when all is in place
/// again. Never changes the backend: repair is an operation of its own.
/// </summary>
public sealed class ReconcileRun(
    IDbContextFactory<PortalDbContext> dbFactory, DriftCheck check, Webhooks.WebhookPublisher webhooks,
    TimeProvider clock, ILogger<ReconcileRun> logger)
{
    public async Task<ReconcileOutcome> RunAsync(Guid instanceId, Actor? actor, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        // Compared while no operation can start on the instance, so the record and the backend are not mid-change.
        await using var instanceLock = await InstanceLock.TryAcquireAsync(db, instanceId, ct);
        var instance = await db.Instances.FirstAsync(i => i.Id == instanceId, ct);
        if (instanceLock is null || await db.Operations.AnyAsync(o => o.InstanceId == instanceId &&
                                                                     (o.State == OperationState.Queued || o.State == OperationState.Running), ct))
        {
            return new ReconcileOutcome(false, instance.State.ToString(), [], "an operation runs on the instance; check again when it has finished");
        }

        if (instance.State is not (InstanceState.Ready or InstanceState.Drifted))
        {
            return new ReconcileOutcome(false, instance.State.ToString(), [], $"only Ready and Drifted instances are reconciled; this one is {instance.State}");
        }

        DriftFindings findings;
        try
        {
            findings = await check.CheckAsync(instanceId, ct);
        }
        catch (Exception e) when (BackendErrors.IsUnreachable(e))
        {
            logger.LogInformation("Reconcile skipped instance {InstanceId}: its backend did not answer ({Error})", instanceId, e.Message);
            // The driver's words name the backend's host: for platform admins (and the log), not for the team.
            return new ReconcileOutcome(false, instance.State.ToString(), [], actor is { IsPlatformAdmin: false }
                ? "the backend did not answer; platform admins can see the details in the portal's log"
                : $"the backend did not answer: {e.Message}");
        }

        var now = clock.GetUtcNow();
        var differences = findings.All;
        var was = instance.State;
        if (instance.Reconciled(differences, now))
        {
            if (instance.State == InstanceState.Drifted)
            {
                db.Audit(actor, now, "instance.drifted", "instance", instance.Id, instance.TeamId, $"{instance.Name}: {instance.Drift}");
                db.Notification(instance.CreatedBy, now, $"{instance.Name} has drifted", string.Join("; ", differences), $"/instances/{instance.Id}");
            }
            else
            {
                db.Audit(actor, now, "instance.drift-resolved", "instance", instance.Id, instance.TeamId, $"{instance.Name}: everything is in place again");
            }
        }

        await db.SaveChangesAsync(ct);
        if (was != instance.State)
        {
            await InstanceEvents.PublishAsync(db, instance.Id, ct);
            if (instance.State == InstanceState.Drifted)
            {
                await webhooks.PublishAsync(WebhookEvents.InstanceDrifted, instance.TeamId,
                    new { instanceId = instance.Id, instance.Name, differences }, ct);
            }
        }

        return new ReconcileOutcome(true, instance.State.ToString(), differences);
    }
}
