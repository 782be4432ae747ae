using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Application.Quotas;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Approvals;

namespace Portal.Application.Approvals;

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

    /// <summary>
    /// The policy and the approver groups name teams, rules and approvers' e-mail addresses: for platform admins and
    /// approvers (the platform role, or a member of any approver group), not for every team's accounts.
    /// </summary>
    public static async Task RequireMayReadPolicyAsync(PortalDbContext db, Actor actor, CancellationToken ct)
    {
        if (!actor.IsPlatformAdmin && !actor.IsApprover && !await db.ApproverGroups.AnyAsync(g => g.Members.Contains(actor.UserId), ct))
        {
            throw new ForbiddenException("Only platform admins and approvers may read the approval policy and the approver groups.");
        }
    }

    /// <summary>
    /// Whether the actor may see the request at all: its team's members, platform admins, those who may decide it now
    /// and those who decided on it. Everyone else gets 404 for every action on it, as for a request that does not exist.
    /// </summary>
    public static async Task<bool> MaySeeAsync(PortalDbContext db, Actor actor, ApprovalRequest request, CancellationToken ct) =>
        actor.IsPlatformAdmin
        || request.Decisions.Any(d => d.ApproverId == actor.UserId)
        || await db.TeamMembers.AnyAsync(m => m.TeamId == request.TeamId && m.UserId == actor.UserId, ct)
        || await CanDecideAsync(db, actor, request, ct);

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
