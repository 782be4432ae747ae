namespace Portal.Domain.Approvals;

/// <summary>One approver's decision on one stage of a request.</summary>
public sealed record ApprovalDecision(Guid ApproverId, int Stage, bool Approved, string Comment);

public enum RequestStatus
{
    Pending,
    Approved,
    Rejected,
    Expired,
}

/// <param name="CurrentStage">The stage that waits for approvals (the number of stages once approved).</param>
/// <param name="Approvals">Approvals the current stage has so far.</param>
public sealed record ApprovalStatus(RequestStatus Status, int CurrentStage, int Approvals);

/// <summary>Where a request stands, and who may decide on it now.</summary>
public static class ApprovalProgress
{
    /// <summary>
    /// Stages are passed in order; a stage is passed when it has its number of approvals. One rejection
    /// ends the request.
    /// </summary>
    public static ApprovalStatus Evaluate(IReadOnlyList<ApprovalStage> stages, IReadOnlyList<ApprovalDecision> decisions)
    {
        if (decisions.Any(d => !d.Approved))
        {
            return new ApprovalStatus(RequestStatus.Rejected, CurrentStage(stages, decisions), 0);
        }

        var stage = CurrentStage(stages, decisions);
        return stage == stages.Count
            ? new ApprovalStatus(RequestStatus.Approved, stage, 0)
            : new ApprovalStatus(RequestStatus.Pending, stage, decisions.Count(d => d.Stage == stage));
    }

    /// <summary>
    /// Why <paramref name="approver"/> may not decide now, or null if they may: separation of duties
    /// (nobody decides on their own request) and one person counts once per request.
    /// </summary>
    public static string? RefusalFor(Guid approver, Guid requester, IReadOnlyList<ApprovalStage> stages, IReadOnlyList<ApprovalDecision> decisions)
    {
        if (approver == requester)
        {
            return "Nobody may decide on their own request.";
        }

        if (decisions.Any(d => d.ApproverId == approver))
        {
            return "You have decided on this request already; one person counts once.";
        }

        return Evaluate(stages, decisions).Status == RequestStatus.Pending ? null : "The request is decided already.";
    }

    private static int CurrentStage(IReadOnlyList<ApprovalStage> stages, IReadOnlyList<ApprovalDecision> decisions)
    {
        var stage = 0;
        while (stage < stages.Count && decisions.Count(d => d.Stage == stage && d.Approved) >= stages[stage].RequiredApprovals)
        {
            stage++;
        }

        return stage;
    }
}
