using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Instances;
using Portal.Application.Notifications;
using Portal.Data;
using Portal.Domain.Approvals;
using Portal.Domain.Instances;

namespace Portal.Application.Approvals;

/// <summary>Settings of the approval deadlines (section <c>Approvals</c>).</summary>
public sealed class ApprovalOptions
{
    /// <summary>A request waiting this long reminds its approvers (once).</summary>
    public TimeSpan RemindAfter { get; set; } = TimeSpan.FromDays(1);

    /// <summary>A request waiting this long expires: nothing is provisioned.</summary>
    public TimeSpan ExpireAfter { get; set; } = TimeSpan.FromDays(7);

    public string Schedule { get; set; } = "*/15 * * * *";
}

/// <summary>Recurring: reminds approvers of requests that wait long, and expires those that wait too long.</summary>
[AutomaticRetry(Attempts = 0)]
[DisableConcurrentExecution(timeoutInSeconds: 60)]
public sealed class ApprovalDeadlinesJob(
    IDbContextFactory<PortalDbContext> dbFactory, IOptions<ApprovalOptions> options, TimeProvider clock)
{
    public const string RecurringJobId = "approval-deadlines";

    public async Task RunAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var remindBefore = now - options.Value.RemindAfter;
        var expireBefore = now - options.Value.ExpireAfter;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var waiting = await db.ApprovalRequests
            .Where(r => r.Status == RequestStatus.Pending && (r.CreatedAt <= expireBefore || (r.CreatedAt <= remindBefore && r.RemindedAt == null)))
            .ToListAsync(ct);
        var changed = new List<Guid>();
        foreach (var request in waiting)
        {
            var instance = await db.Instances.FirstAsync(i => i.Id == request.InstanceId, ct);
            if (request.CreatedAt <= expireBefore)
            {
                request.Status = RequestStatus.Expired;
                request.DecidedAt = now;
                request.Reason = $"Nobody decided within {options.Value.ExpireAfter.TotalDays:0.#} days.";
                if (request.Operation == ApprovalOperation.Create)
                {
                    instance.MoveTo(InstanceState.Expired, now, $"Expired: {request.Reason}");
                }
                else
                {
                    instance.Note(now, $"The request expired: {request.Reason}");
                }

                db.Notification(request.RequestedBy, now, $"{instance.Name} expired", request.Reason, $"/instances/{instance.Id}");
                db.Audit(Actor.System, now, "approval.expired", "instance", instance.Id, instance.TeamId, $"{instance.Name}: {request.Reason}");
                changed.Add(instance.Id);
            }
            else
            {
                // The inbox is where approvers look; the reminder is on record for them and the requester.
                request.RemindedAt = now;
                var stage = ApprovalProgress.Evaluate(request.Stages, await db.ApprovalDecisions.Where(d => d.RequestId == request.Id)
                    .Select(d => new ApprovalDecision(d.ApproverId, d.Stage, d.Approved, d.Comment)).ToListAsync(ct)).CurrentStage;
                await db.NotifyApproversAsync(request.Stages[Math.Min(stage, request.Stages.Count - 1)], request.TeamId, request.RequestedBy, now,
                    $"Reminder: {instance.Name} waits for your approval", $"Requested by {request.RequestedByName} on {request.CreatedAt:yyyy-MM-dd}.", ct);
                db.Audit(Actor.System, now, "approval.reminder", "instance", instance.Id, instance.TeamId,
                    $"{instance.Name} has waited since {request.CreatedAt:yyyy-MM-dd HH:mm} UTC for: {string.Join(" → ", request.Stages.Select(s => s.Name))}");
            }
        }

        await db.SaveChangesAsync(ct);
        foreach (var id in changed)
        {
            await InstanceEvents.PublishAsync(db, id, ct);
        }
    }
}
