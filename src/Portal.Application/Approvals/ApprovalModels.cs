using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;
using Portal.Domain.Approvals;
using Portal.Domain.Quotas;

namespace Portal.Application.Approvals;

public sealed record ApproverGroupView(string Name, string? Description, IReadOnlyList<string> Members);

public sealed record DecisionView(string Approver, int Stage, bool Approved, string Comment, DateTimeOffset At);

/// <summary>A request as approvers see it: who asked, for what, at what cost, and the team's quota use.</summary>
public sealed record ApprovalView(
    Guid Id, Guid InstanceId, string InstanceName, Guid TeamId, string TeamName, string Offering, string Plan, decimal MonthlyCost,
    string Environment, string Operation, string RequestedBy, DateTimeOffset CreatedAt, string Status, string RuleName,
    IReadOnlyList<ApprovalStage> Stages, int CurrentStage, IReadOnlyList<DecisionView> Decisions, string? Reason, bool CanDecide,
    QuotaUse? TeamQuota);

/// <summary>One rule as the API and the policy page read and write it.</summary>
public sealed record ApprovalRuleView(
    string Name, string? Offering, string? Plan, Guid? TeamId, string? Environment, [Range(0d, 100_000_000d)] decimal? MinMonthlyCost, ApprovalOperation? Operation,
    bool AutoApprove, IReadOnlyList<ApprovalStage> Stages);
