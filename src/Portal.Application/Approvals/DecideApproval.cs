using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Application.Notifications;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Approvals;
using Portal.Domain.Instances;
using Portal.Domain.Operations;

namespace Portal.Application.Approvals;

public sealed record Decide(bool Approve, [Text(2000, MultiLine = true)] string Comment);

/// <summary>
/// Approves or rejects the current stage of a request, with a comment. Nobody decides on their own request
/// and one person counts once. The last approval starts the operation; a rejection ends the request.
/// </summary>
public sealed class DecideApprovalHandler(
    IDbContextFactory<PortalDbContext> dbFactory, ApprovalAccess access, OperationQueue queue,
    Webhooks.WebhookPublisher webhooks, TimeProvider clock)
{
    public async Task<ApprovalView> HandleAsync(Actor actor, Guid requestId, Decide decision, CancellationToken ct = default)
    {
        new Validator()
            .Input(decision)
            .Require(decision.Comment?.Trim().Length is >= 2 and <= 2000, "comment", "Say why, in 2 to 2000 characters.")
            .ThrowIfInvalid();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        // Decisions on one request are taken one at a time, so two last approvals cannot both start it.
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({BitConverter.ToInt64(requestId.ToByteArray(), 8)})", ct);
        var request = await db.ApprovalRequests.Include(r => r.Decisions).FirstOrDefaultAsync(r => r.Id == requestId, ct)
            ?? throw new NotFoundException("Approval request");
        if (!await ApprovalAccess.MaySeeAsync(db, actor, request, ct))
        {
            throw new NotFoundException("Approval request");
        }

        var decisions = request.Decisions.Select(d => d.ToDecision()).ToList();
        if (ApprovalProgress.RefusalFor(actor.UserId, request.RequestedBy, request.Stages, decisions) is { } refusal)
        {
            throw actor.UserId == request.RequestedBy ? new ForbiddenException(refusal) : new ConflictException(refusal);
        }

        var stage = ApprovalProgress.Evaluate(request.Stages, decisions).CurrentStage;
        if (!await ApprovalAccess.IsEligibleAsync(db, actor, request.Stages[stage], request.TeamId, ct))
        {
            throw new ForbiddenException($"Stage '{request.Stages[stage].Name}' is decided by {Describe(request.Stages[stage])}.");
        }

        var now = clock.GetUtcNow();
        var comment = decision.Comment!.Trim();
        // Added through its set: a new child with its id already set would otherwise be taken for an existing row.
        var record = new ApprovalDecisionRecord
        {
            RequestId = request.Id, ApproverId = actor.UserId, ApproverName = actor.Name, Stage = stage, Approved = decision.Approve, Comment = comment, At = now,
        };
        db.ApprovalDecisions.Add(record);
        var instance = await db.Instances.FirstAsync(i => i.Id == request.InstanceId, ct);
        db.Audit(actor, now, decision.Approve ? "approval.approved" : "approval.rejected", "instance", instance.Id, instance.TeamId,
            $"{instance.Name}, stage {request.Stages[stage].Name}: {comment}");

        Operation? operation = null;
        var status = ApprovalProgress.Evaluate(request.Stages, request.Decisions.Select(d => d.ToDecision()).ToList()).Status;
        if (status == RequestStatus.Rejected)
        {
            request.Status = RequestStatus.Rejected;
            request.DecidedAt = now;
            request.Reason = $"Rejected by {actor.Name}: {comment}";
            if (request.Operation == ApprovalOperation.Create)
            {
                instance.MoveTo(InstanceState.Rejected, now, request.Reason);
            }
            else
            {
                // A live instance stays as it is; only the change is refused.
                instance.Note(now, $"The {Describe(request.Operation)} was {request.Reason[0..1].ToLowerInvariant()}{request.Reason[1..]}");
            }

            db.Notification(request.RequestedBy, now, $"{instance.Name} was rejected", request.Reason, $"/instances/{instance.Id}");
        }
        else if (status == RequestStatus.Approved && request.Operation == ApprovalOperation.ExtendLease)
        {
            // Nothing to run on a backend: the lease simply ends later.
            request.Status = RequestStatus.Approved;
            request.DecidedAt = now;
            instance.SetApprovedLease(request.TargetExpiresAt!.Value, now);
            instance.Note(now, null);
            db.Notification(request.RequestedBy, now, $"The lease of {instance.Name} was extended",
                $"Until {request.TargetExpiresAt:yyyy-MM-dd HH:mm} UTC; approved by {actor.Name}: {comment}", $"/instances/{instance.Id}");
        }
        else if (status == RequestStatus.Approved)
        {
            request.Status = RequestStatus.Approved;
            request.DecidedAt = now;
            await db.RequireNoOperationRunningAsync(instance.Id, ct);
            var kind = request.Operation switch
            {
                ApprovalOperation.Delete => OperationKind.Deprovision,
                ApprovalOperation.ChangePlan => OperationKind.Update,
                _ => OperationKind.Provision,
            };
            if (request.TargetPlanId is { } planId)
            {
                instance.PlanId = planId;
            }

            instance.MoveTo(kind switch
            {
                OperationKind.Deprovision => InstanceState.Deprovisioning,
                OperationKind.Update => InstanceState.Updating,
                _ => InstanceState.Provisioning,
            }, now, "Approved: waiting for a worker");
            operation = new Operation { InstanceId = instance.Id, Kind = kind, RequestedBy = request.RequestedBy, CreatedAt = now };
            db.Operations.Add(operation);
            db.Notification(request.RequestedBy, now, $"{instance.Name} was approved", $"Approved by {actor.Name}: {comment}", $"/instances/{instance.Id}");
        }
        else if (ApprovalProgress.Evaluate(request.Stages, request.Decisions.Select(d => d.ToDecision()).ToList()).CurrentStage is var next && next > stage)
        {
            await db.NotifyApproversAsync(request.Stages[next], request.TeamId, request.RequestedBy, now, $"{instance.Name} waits for your approval",
                $"{request.RequestedByName} asks for it; stage {request.Stages[stage].Name} is approved.", ct);
        }

        await db.SaveOrConflictAsync("You have decided on this request already; one person counts once.", ct);
        await transaction.CommitAsync(ct);
        if (operation is not null)
        {
            await queue.EnqueueAsync(operation.Id);
        }

        await InstanceEvents.PublishAsync(db, instance.Id, ct);
        if (request.Status != RequestStatus.Pending)
        {
            await webhooks.PublishAsync(
                request.Status == RequestStatus.Approved ? Portal.Domain.Webhooks.WebhookEvents.RequestApproved : Portal.Domain.Webhooks.WebhookEvents.RequestRejected,
                instance.TeamId, new { instanceId = instance.Id, instance.Name, requestId = request.Id, decidedBy = actor.Name, comment, request.Reason }, ct);
        }

        return await access.ToViewAsync(db, actor, request, ct);
    }

    private static string Describe(ApprovalOperation operation) => operation switch
    {
        ApprovalOperation.Delete => "deletion",
        ApprovalOperation.ChangePlan => "plan change",
        ApprovalOperation.ExtendLease => "lease extension",
        _ => "request",
    };

    private static string Describe(ApprovalStage stage) => stage.Approvers switch
    {
        ApproverKind.PlatformApprovers => "people with the platform role approver",
        ApproverKind.TeamOwners => "the owners of the requesting team",
        _ => $"the group {stage.Group}",
    };
}
