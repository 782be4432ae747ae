using Portal.Domain.Approvals;

namespace Portal.Domain.Tests;

public sealed class ApprovalPolicyTests
{
    private static readonly Guid Payments = Guid.Parse("11111111-1111-1111-1111-111111111111");
    private static readonly Guid Research = Guid.Parse("22222222-2222-2222-2222-222222222222");

    private static readonly ApprovalStage Platform = new("platform", ApproverKind.PlatformApprovers, null, 1);
    private static readonly ApprovalStage Owners = new("owners", ApproverKind.TeamOwners, null, 2);
    private static readonly ApprovalStage Dba = new("dba", ApproverKind.Group, "dba", 1);

    /// <summary>A policy like a platform team writes: cheap dev things pass, prod needs two stages.</summary>
    private static List<ApprovalRule> Policy() =>
    [
        new() { Order = 30, Name = "everything else", AutoApprove = true },
        new() { Order = 10, Name = "prod", Environment = "prod", Stages = [Owners, Platform] },
        new() { Order = 20, Name = "expensive", MinMonthlyCost = 50, Stages = [Platform] },
        new() { Order = 5, Name = "research deletes", TeamId = Research, Operation = ApprovalOperation.Delete, Stages = [Dba] },
        new() { Order = 15, Name = "large postgres", Offering = "postgresql", Plan = "large", Stages = [Dba, Platform] },
    ];

    public static TheoryData<string, string, Guid, string, decimal, ApprovalOperation, string, string[]> Cases() => new()
    {
        // offering, plan, team, environment, cost, operation → deciding rule, stage names
        { "postgresql", "small", Payments, "dev", 15m, ApprovalOperation.Create, "everything else", [] },
        { "postgresql", "small", Payments, "prod", 15m, ApprovalOperation.Create, "prod", ["owners", "platform"] },
        { "postgresql", "medium", Payments, "test", 60m, ApprovalOperation.Create, "expensive", ["platform"] },
        { "postgresql", "medium", Payments, "test", 50m, ApprovalOperation.Create, "expensive", ["platform"] },
        { "postgresql", "medium", Payments, "test", 49.99m, ApprovalOperation.Create, "everything else", [] },
        { "postgresql", "large", Payments, "test", 200m, ApprovalOperation.Create, "large postgres", ["dba", "platform"] },
        { "redis", "large", Payments, "test", 200m, ApprovalOperation.Create, "expensive", ["platform"] },
        { "postgresql", "large", Payments, "prod", 200m, ApprovalOperation.Create, "prod", ["owners", "platform"] },
        { "postgresql", "small", Research, "prod", 15m, ApprovalOperation.Delete, "research deletes", ["dba"] },
        { "postgresql", "small", Research, "prod", 15m, ApprovalOperation.Create, "prod", ["owners", "platform"] },
        { "postgresql", "small", Payments, "dev", 15m, ApprovalOperation.Delete, "everything else", [] },
        { "postgresql", "medium", Payments, "dev", 60m, ApprovalOperation.ChangePlan, "expensive", ["platform"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Evaluate_Request_FirstMatchingRuleByOrderDecides(
        string offering, string plan, Guid team, string environment, decimal cost, ApprovalOperation operation, string rule, string[] stages)
    {
        var outcome = ApprovalPolicy.Evaluate(Policy(), new RequestFacts(offering, plan, team, environment, cost, operation));

        Assert.Equal(rule, outcome.Rule?.Name);
        Assert.Equal(stages, outcome.Stages.Select(s => s.Name).ToArray());
        Assert.Equal(stages.Length == 0, outcome.AutoApproved);
    }

    [Fact]
    public void Evaluate_NoRuleMatches_AutoApprovesWithoutARule()
    {
        var outcome = ApprovalPolicy.Evaluate(
            [new ApprovalRule { Order = 1, Name = "prod only", Environment = "prod", Stages = [Platform] }],
            new RequestFacts("postgresql", "small", Payments, "dev", 15m, ApprovalOperation.Create));

        Assert.Null(outcome.Rule);
        Assert.True(outcome.AutoApproved);
    }

    [Fact]
    public void Evaluate_RuleWithStagesButAutoApprove_NeedsNoApproval()
    {
        var outcome = ApprovalPolicy.Evaluate(
            [new ApprovalRule { Order = 1, Name = "switched off", AutoApprove = true, Stages = [Platform] }],
            new RequestFacts("postgresql", "small", Payments, "prod", 15m, ApprovalOperation.Create));

        Assert.True(outcome.AutoApproved);
    }
}

public sealed class ApprovalProgressTests
{
    private static readonly Guid Requester = Guid.NewGuid();
    private static readonly Guid Ann = Guid.NewGuid();
    private static readonly Guid Bob = Guid.NewGuid();
    private static readonly Guid Cid = Guid.NewGuid();

    private static readonly ApprovalStage[] TwoStages =
    [
        new("owners", ApproverKind.TeamOwners, null, 2),
        new("platform", ApproverKind.PlatformApprovers, null, 1),
    ];

    private static ApprovalDecision Approve(Guid who, int stage) => new(who, stage, true, "ok");

    public static TheoryData<ApprovalDecision[], RequestStatus, int, int> Progress() => new()
    {
        // decisions → status, current stage, approvals of the current stage
        { [], RequestStatus.Pending, 0, 0 },
        { [Approve(Ann, 0)], RequestStatus.Pending, 0, 1 },
        { [Approve(Ann, 0), Approve(Bob, 0)], RequestStatus.Pending, 1, 0 },
        { [Approve(Ann, 0), Approve(Bob, 0), Approve(Cid, 1)], RequestStatus.Approved, 2, 0 },
        { [Approve(Ann, 0), new(Bob, 0, false, "too big")], RequestStatus.Rejected, 0, 0 },
        { [Approve(Ann, 0), Approve(Bob, 0), new(Cid, 1, false, "no")], RequestStatus.Rejected, 1, 0 },
    };

    [Theory]
    [MemberData(nameof(Progress))]
    public void Evaluate_Decisions_GivesStatusAndStage(ApprovalDecision[] decisions, RequestStatus status, int stage, int approvals)
    {
        var result = ApprovalProgress.Evaluate(TwoStages, decisions);

        Assert.Equal(new ApprovalStatus(status, stage, approvals), result);
    }

    [Fact]
    public void RefusalFor_Requester_IsRefused()
    {
        Assert.Equal("Nobody may decide on their own request.", ApprovalProgress.RefusalFor(Requester, Requester, TwoStages, []));
    }

    [Fact]
    public void RefusalFor_SamePersonTwice_IsRefusedEvenInALaterStage()
    {
        ApprovalDecision[] decisions = [Approve(Ann, 0), Approve(Bob, 0)];

        Assert.Contains("once", ApprovalProgress.RefusalFor(Ann, Requester, TwoStages, decisions));
        Assert.Null(ApprovalProgress.RefusalFor(Cid, Requester, TwoStages, decisions));
    }

    [Fact]
    public void RefusalFor_DecidedRequest_IsRefused()
    {
        ApprovalDecision[] decisions = [Approve(Ann, 0), Approve(Bob, 0), Approve(Cid, 1)];

        Assert.Equal("The request is decided already.", ApprovalProgress.RefusalFor(Guid.NewGuid(), Requester, TwoStages, decisions));
    }
}
