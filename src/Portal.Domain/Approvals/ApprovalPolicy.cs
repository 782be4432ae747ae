using System.ComponentModel.DataAnnotations;

namespace Portal.Domain.Approvals;

/// <summary>What a request asks for.</summary>
public enum ApprovalOperation
{
    Create,
    ChangePlan,
    Delete,

    /// <summary>A lease extension beyond the plan's maximum.</summary>
    ExtendLease,
}

/// <summary>Who may approve a stage.</summary>
public enum ApproverKind
{
    /// <summary>People with the platform role <c>approver</c>.</summary>
    PlatformApprovers,

    /// <summary>Members of a named approver group.</summary>
    Group,

    /// <summary>Owners of the requesting team.</summary>
    TeamOwners,
}

/// <summary>The facts of a request that rules match on.</summary>
public sealed record RequestFacts(
    string Offering, string Plan, Guid TeamId, string Environment, decimal MonthlyCost, ApprovalOperation Operation);

/// <summary>One approval stage: who may approve it, and how many distinct approvals it needs.</summary>
public sealed record ApprovalStage(string Name, ApproverKind Approvers, string? Group, [Range(1, 100)] int RequiredApprovals);

/// <summary>
/// One rule of the approval policy. Every condition that is set must hold (null = any); the first
/// matching rule by <see cref="Order"/> decides: auto-approve, or the stages to pass in order.
/// </summary>
public sealed class ApprovalRule
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public int Order { get; set; }

    public required string Name { get; set; }

    public string? Offering { get; set; }

    public string? Plan { get; set; }

    public Guid? TeamId { get; set; }

    /// <summary><c>dev</c>, <c>test</c> or <c>prod</c>.</summary>
    public string? Environment { get; set; }

    /// <summary>Matches plans whose monthly cost is at or above this.</summary>
    public decimal? MinMonthlyCost { get; set; }

    public ApprovalOperation? Operation { get; set; }

    public bool AutoApprove { get; set; }

    public List<ApprovalStage> Stages { get; set; } = [];

    public bool Matches(RequestFacts facts) =>
        (Offering is null || Offering == facts.Offering)
        && (Plan is null || Plan == facts.Plan)
        && (TeamId is null || TeamId == facts.TeamId)
        && (Environment is null || Environment == facts.Environment)
        && (MinMonthlyCost is null || facts.MonthlyCost >= MinMonthlyCost)
        && (Operation is null || Operation == facts.Operation);
}

/// <param name="Rule">The rule that decided, or null when none matched (then the request is auto-approved).</param>
public sealed record ApprovalOutcome(ApprovalRule? Rule, IReadOnlyList<ApprovalStage> Stages)
{
    public bool AutoApproved => Stages.Count == 0;
}

public static class ApprovalPolicy
{
    public static readonly IReadOnlyList<string> Environments = ["dev", "test", "prod"];

    /// <summary>First matching rule wins; a rule that auto-approves, or has no stages, needs no approval.</summary>
    public static ApprovalOutcome Evaluate(IEnumerable<ApprovalRule> rules, RequestFacts facts)
    {
        var rule = rules.OrderBy(r => r.Order).FirstOrDefault(r => r.Matches(facts));
        return new ApprovalOutcome(rule, rule is null || rule.AutoApprove ? [] : rule.Stages);
    }
}
