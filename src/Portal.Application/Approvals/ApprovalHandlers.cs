using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Application.Notifications;
using Portal.Application.Operations;
using Portal.Application.Quotas;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Approvals;
using Portal.Domain.Instances;
using Portal.Domain.Operations;
using Portal.Domain.Quotas;

namespace Portal.Application.Approvals;

public sealed record DecisionView(string Approver, int Stage, bool Approved, string Comment, DateTimeOffset At);

/// <summary>A request as approvers see it: who asked, for what, at what cost, and the team's quota use.</summary>
public sealed record ApprovalView(
    Guid Id, Guid InstanceId, string InstanceName, Guid TeamId, string TeamName, string Offering, string Plan, decimal MonthlyCost,
    string Environment, string Operation, string RequestedBy, DateTimeOffset CreatedAt, string Status, string RuleName,
    IReadOnlyList<ApprovalStage> Stages, int CurrentStage, IReadOnlyList<DecisionView> Decisions, string? Reason, bool CanDecide,
    QuotaUse? TeamQuota);

public sealed record Decide(bool Approve, string Comment);

/// <summary>Who may decide which stage, and what a request looks like to them.</summary>
public sealed class ApprovalAccess(QuotaService quotas)
{
    public static async Task<bool> IsEligibleAsync(PortalDbContext db, Actor actor, ApprovalStage stage, Guid teamId, CancellationToken ct) =>
        stage.Approvers switch
        {
            ApproverKind.PlatformApprovers => actor.IsApprover,
            ApproverKind.TeamOwners => await db.TeamMembers.AnyAsync(m => m.TeamId == teamId && m.UserId == actor.UserId && m.Role == TeamRole.Owner, ct),
            ApproverKind.Group => await db.ApproverGroups.AnyAsync(g => g.Name == stage.Group && g.Members.Contains(actor.UserId), ct),
            _ => false,
        };

    /// <summary>Whether the actor may decide the request's current stage now.</summary>
    public static async Task<bool> CanDecideAsync(PortalDbContext db, Actor actor, ApprovalRequest request, CancellationToken ct)
    {
        if (request.Status != RequestStatus.Pending)
        {
            return false;
        }

        var decisions = request.Decisions.Select(d => d.ToDecision()).ToList();
        return ApprovalProgress.RefusalFor(actor.UserId, request.RequestedBy, request.Stages, decisions) is null
               && await IsEligibleAsync(db, actor, request.Stages[ApprovalProgress.Evaluate(request.Stages, decisions).CurrentStage], request.TeamId, ct);
    }

    public async Task<ApprovalView> ToViewAsync(PortalDbContext db, Actor actor, ApprovalRequest request, CancellationToken ct)
    {
        var facts = await (
                from i in db.Instances
                where i.Id == request.InstanceId
                join t in db.Teams on i.TeamId equals t.Id
                join o in db.Offerings on i.OfferingId equals o.Id
                join p in db.Plans on i.PlanId equals p.Id
                select new { i.Name, i.Environment, Team = t.Name, Offering = o.Key, Plan = p.Key, p.MonthlyCost })
            .FirstAsync(ct);
        var decisions = request.Decisions.OrderBy(d => d.At).ToList();
        var status = ApprovalProgress.Evaluate(request.Stages, decisions.Select(d => d.ToDecision()).ToList());
        var canDecide = await CanDecideAsync(db, actor, request, ct);
        return new ApprovalView(
            request.Id, request.InstanceId, facts.Name, request.TeamId, facts.Team, facts.Offering, facts.Plan, facts.MonthlyCost, facts.Environment,
            request.Operation.ToString(), request.RequestedByName, request.CreatedAt, request.Status.ToString(), request.RuleName, request.Stages,
            status.CurrentStage, decisions.Select(d => new DecisionView(d.ApproverName, d.Stage, d.Approved, d.Comment, d.At)).ToList(),
            request.Reason, canDecide, (await quotas.GetUseAsync(db, request.TeamId, ct)).Use);
    }
}

/// <summary>
/// The inbox: pending requests the actor may decide now, or (<c>mine</c>) the actor's own requests.
/// </summary>
public sealed class ListApprovalsHandler(IDbContextFactory<PortalDbContext> dbFactory, ApprovalAccess access)
{
    public async Task<IReadOnlyList<ApprovalView>> HandleAsync(Actor actor, bool mine = false, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var requests = await db.ApprovalRequests.AsNoTracking().Include(r => r.Decisions)
            .Where(r => mine ? r.RequestedBy == actor.UserId : r.Status == RequestStatus.Pending)
            .OrderByDescending(r => r.CreatedAt).Take(200).ToListAsync(ct);
        var views = new List<ApprovalView>();
        foreach (var request in requests)
        {
            // Decide who sees what first: the full view (facts, quota use) is built only for the requests shown.
            if (mine || await ApprovalAccess.CanDecideAsync(db, actor, request, ct))
            {
                views.Add(await access.ToViewAsync(db, actor, request, ct));
            }
        }

        return views;
    }

    /// <summary>How many requests wait for the actor, for the navigation badge (no views built).</summary>
    public async Task<int> CountAsync(Actor actor, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var pending = await db.ApprovalRequests.AsNoTracking().Include(r => r.Decisions)
            .Where(r => r.Status == RequestStatus.Pending).Take(200).ToListAsync(ct);
        var count = 0;
        foreach (var request in pending)
        {
            count += await ApprovalAccess.CanDecideAsync(db, actor, request, ct) ? 1 : 0;
        }

        return count;
    }
}

/// <summary>One request, for its team's members, the approvers who may decide it, and platform admins.</summary>
public sealed class GetApprovalHandler(IDbContextFactory<PortalDbContext> dbFactory, ApprovalAccess access)
{
    public async Task<ApprovalView> HandleAsync(Actor actor, Guid requestId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var request = await db.ApprovalRequests.AsNoTracking().Include(r => r.Decisions).FirstOrDefaultAsync(r => r.Id == requestId, ct)
            ?? throw new NotFoundException("Approval request");
        var view = await access.ToViewAsync(db, actor, request, ct);
        var member = await db.TeamMembers.AnyAsync(m => m.TeamId == request.TeamId && m.UserId == actor.UserId, ct);
        if (!actor.IsPlatformAdmin && !member && !view.CanDecide && !request.Decisions.Any(d => d.ApproverId == actor.UserId))
        {
            throw new NotFoundException("Approval request");
        }

        return view;
    }
}

/// <summary>
/// Approves or rejects the current stage of a request, with a comment. Nobody decides on their own request
/// and one person counts once. The last approval starts the operation; a rejection ends the request.
/// </summary>
public sealed class DecideApprovalHandler(
    IDbContextFactory<PortalDbContext> dbFactory, ApprovalAccess access, OperationQueue queue, InstanceEvents events,
    Webhooks.WebhookPublisher webhooks, TimeProvider clock)
{
    public async Task<ApprovalView> HandleAsync(Actor actor, Guid requestId, Decide decision, CancellationToken ct = default)
    {
        new Validator()
            .Require(decision.Comment?.Trim().Length is >= 2 and <= 2000, "comment", "Say why, in 2 to 2000 characters.")
            .ThrowIfInvalid();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        // Decisions on one request are taken one at a time, so two last approvals cannot both start it.
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({BitConverter.ToInt64(requestId.ToByteArray(), 8)})", ct);
        var request = await db.ApprovalRequests.Include(r => r.Decisions).FirstOrDefaultAsync(r => r.Id == requestId, ct)
            ?? throw new NotFoundException("Approval request");
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
            await queue.EnqueueAsync(operation.Id, ct);
        }

        await events.PublishAsync(db, instance.Id, ct);
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
