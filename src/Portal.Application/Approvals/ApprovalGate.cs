using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Application.Notifications;
using Portal.Data;
using Portal.Domain.Approvals;
using Portal.Domain.Catalog;
using Portal.Domain.Instances;

namespace Portal.Application.Approvals;

/// <summary>Asks the approval policy about a change to an existing instance (plan change, deletion).</summary>
public static class ApprovalGate
{
    /// <summary>
    /// Returns null when the policy lets the change through at once; otherwise records the approval
    /// request (not yet saved), tells the first stage's approvers, and notes on the instance what it waits for.
    /// </summary>
    public static async Task<ApprovalRequest?> GateAsync(
        this PortalDbContext db, Actor actor, Instance instance, ApprovalOperation operation, Plan plan, DateTimeOffset now, CancellationToken ct,
        DateTimeOffset? targetExpiresAt = null, bool refuseWithoutRule = false)
    {
        if (await db.ApprovalRequests.AnyAsync(r => r.InstanceId == instance.Id && r.Status == RequestStatus.Pending, ct))
        {
            throw new ConflictException("A request for this instance already waits for approval.");
        }

        var offering = await db.Offerings.AsNoTracking().FirstAsync(o => o.Id == instance.OfferingId, ct);
        var rules = await db.ApprovalRules.AsNoTracking().ToListAsync(ct);
        var outcome = ApprovalPolicy.Evaluate(rules, new RequestFacts(offering.Key, plan.Key, instance.TeamId, instance.Environment, plan.MonthlyCost, operation));
        if (outcome.Rule is null && refuseWithoutRule)
        {
            throw ValidationException.For("until",
                "A lease longer than the plan allows needs an approved request, and the approval policy has no rule for lease extensions; " +
                "ask the platform team.");
        }

        if (outcome.AutoApproved)
        {
            return null;
        }

        var request = new ApprovalRequest
        {
            InstanceId = instance.Id, TeamId = instance.TeamId, Operation = operation, RequestedBy = actor.UserId, RequestedByName = actor.Name,
            RuleName = outcome.Rule!.Name, Stages = [.. outcome.Stages], CreatedAt = now,
            TargetPlanId = operation == ApprovalOperation.ChangePlan ? plan.Id : null,
            TargetExpiresAt = targetExpiresAt,
        };
        db.ApprovalRequests.Add(request);
        var what = operation switch
        {
            ApprovalOperation.Delete => "deletion",
            ApprovalOperation.ExtendLease => $"lease extension to {targetExpiresAt:yyyy-MM-dd}",
            _ => $"change to plan {plan.Name}",
        };
        instance.Note(now, $"The {what} waits for approval: {string.Join(" → ", outcome.Stages.Select(s => s.Name))} ({outcome.Rule.Name})");
        await db.NotifyApproversAsync(outcome.Stages[0], instance.TeamId, actor.UserId, now, $"{instance.Name}: {what} waits for your approval",
            $"{actor.Name} asks for it.", ct);
        return request;
    }
}
