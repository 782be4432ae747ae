using Portal.Application.Approvals;
using Portal.Domain.Approvals;
using Portal.Domain.Quotas;
using Portal.Web.Components.Pages.Approvals;

namespace Portal.Web.Tests;

public sealed class ApprovalCardTests : PortalBunitContext
{
    private static ApprovalView Request(bool canDecide, string status = "Pending", int currentStage = 1) => new(
        Guid.NewGuid(), Guid.NewGuid(), "launch-db", Guid.NewGuid(), "Launch", "postgresql", "medium", 60m, "prod", "Create",
        "devi@example.com", DateTimeOffset.UtcNow, status, "prod rule",
        [new ApprovalStage("owners", ApproverKind.TeamOwners, null, 1), new ApprovalStage("platform", ApproverKind.PlatformApprovers, null, 1)],
        currentStage,
        [new DecisionView("olga@example.com", 0, true, "fine by the team", DateTimeOffset.UtcNow)],
        status == "Rejected" ? "Rejected by x: no" : null,
        canDecide,
        new QuotaUse(10, 3, 500m, 120m, new Dictionary<string, int>(), new Dictionary<string, int>()));

    [Fact]
    public void Render_Request_ShowsWhoWhatCostQuotaStagesAndDecisions()
    {
        var cut = Render<ApprovalCard>(ps => ps.Add(p => p.Request, Request(canDecide: false)));

        var text = cut.Markup;
        Assert.Contains("devi@example.com", text);
        Assert.Contains("60.00 a month", text);
        Assert.Contains("environment <b>prod</b>", text);
        Assert.Contains("3 of 10 instances", text);
        Assert.Contains("1. owners (1)", text);
        Assert.Contains("2. platform (1)", text);
        Assert.Contains("fine by the team", text);
        Assert.Empty(cut.FindAll("[data-testid=approve]"));
    }

    [Fact]
    public void Approve_Clicked_CallsOnDecideWithTrue()
    {
        bool? decided = null;
        var cut = Render<ApprovalCard>(ps => ps
            .Add(p => p.Request, Request(canDecide: true))
            .Add(p => p.OnDecide, (bool approve) => decided = approve));

        cut.Find("[data-testid=approve]").Click();

        Assert.True(decided);
    }

    [Fact]
    public void Reject_Clicked_CallsOnDecideWithFalse()
    {
        bool? decided = null;
        var cut = Render<ApprovalCard>(ps => ps
            .Add(p => p.Request, Request(canDecide: true))
            .Add(p => p.OnDecide, (bool approve) => decided = approve));

        cut.Find("[data-testid=reject]").Click();

        Assert.False(decided);
    }

    [Fact]
    public void Render_RejectedRequest_ShowsReasonAndNoButtons()
    {
        var cut = Render<ApprovalCard>(ps => ps
            .Add(p => p.Request, Request(canDecide: false, status: "Rejected"))
            .Add(p => p.OnDecide, (bool _) => { }));

        Assert.Contains("Rejected by x: no", cut.Markup);
        Assert.Empty(cut.FindAll("[data-testid=reject]"));
    }
}
