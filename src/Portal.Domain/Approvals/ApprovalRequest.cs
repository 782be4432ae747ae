namespace Portal.Domain.Approvals;

/// <summary>
/// A change that the approval policy gated: it waits for its stages' approvals; nothing touches a
/// backend until the last stage is approved. One rejection ends it.
/// </summary>
public sealed class ApprovalRequest
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public Guid InstanceId { get; init; }

    public Guid TeamId { get; init; }

    public ApprovalOperation Operation { get; init; }

    /// <summary>For a plan change: the plan asked for.</summary>
    public Guid? TargetPlanId { get; init; }

    /// <summary>For a lease extension: the end asked for.</summary>
    public DateTimeOffset? TargetExpiresAt { get; init; }

    public Guid RequestedBy { get; init; }

    public required string RequestedByName { get; init; }

    /// <summary>The rule that gated the request, by name, as it was then.</summary>
    public required string RuleName { get; init; }

    /// <summary>The stages as the rule had them when the request was made.</summary>
    public List<ApprovalStage> Stages { get; init; } = [];

    public RequestStatus Status { get; set; } = RequestStatus.Pending;

    public string? Reason { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? DecidedAt { get; set; }

    /// <summary>When the approvers were reminded of the waiting request (once).</summary>
    public DateTimeOffset? RemindedAt { get; set; }

    public List<ApprovalDecisionRecord> Decisions { get; init; } = [];
}

/// <summary>One approver's decision, as stored.</summary>
public sealed class ApprovalDecisionRecord
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public Guid RequestId { get; init; }

    public Guid ApproverId { get; init; }

    public required string ApproverName { get; init; }

    public int Stage { get; init; }

    public bool Approved { get; init; }

    public required string Comment { get; init; }

    public DateTimeOffset At { get; init; }

    public ApprovalDecision ToDecision() => new(ApproverId, Stage, Approved, Comment);
}
