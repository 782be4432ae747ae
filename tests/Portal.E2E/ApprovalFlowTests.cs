using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Portal.Application.Accounts;
using Portal.Application.Approvals;
using Portal.Application.Teams;
using Portal.Domain.Approvals;

namespace Portal.E2E;

/// <summary>A developer requests a prod database; an approver (a second person) approves it in the inbox; it becomes Ready.</summary>
public sealed partial class ApprovalFlowTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private async Task<IPage> SignInAsync(string email, string password)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = fixture.BaseUrl,
            ViewportSize = new ViewportSize { Width = 1440, Height = 1000 },
        });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync("/account/login");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("#sign-in");
        await page.WaitForURLAsync(InstancesUrl());
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        return page;
    }

    [Fact]
    public async Task ProdRequest_ApprovedByApproverInInbox_BecomesReadyForTheDeveloper()
    {
        var admin = await fixture.AdminAsync();
        var developer = await fixture.RunAsync<CreateUserHandler, UserCreated>(h => h.HandleAsync(admin, new CreateUser("devi@example.com", "Devi", false)));
        var approver = await fixture.RunAsync<CreateUserHandler, UserCreated>(h => h.HandleAsync(admin, new CreateUser("ann@example.com", "Ann", false)));
        await fixture.RunAsync<SetPlatformRolesHandler, UserView>(h => h.HandleAsync(admin, approver.User.Id, ["approver"]));
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Launch", null)));
        await fixture.RunAsync<SetMemberHandler, TeamMemberView>(h => h.HandleAsync(admin, team.Id, new SetMember("devi@example.com", "developer")));
        await fixture.RunAsync<ReplaceApprovalPolicyHandler, IReadOnlyList<ApprovalRuleView>>(h => h.HandleAsync(admin,
        [
            new ApprovalRuleView("prod needs the platform", null, null, null, "prod", null, null, false,
                [new ApprovalStage("platform", ApproverKind.PlatformApprovers, null, 1)]),
        ]));

        // The developer requests a prod database in the catalog.
        var dev = await SignInAsync("devi@example.com", developer.Password);
        await dev.ClickAsync("text=Catalog");
        await dev.FillAsync("#name-postgresql", "launch-db");
        await dev.Locator("[data-testid=offering-postgresql] [data-testid=environment-select]").ClickAsync();
        await dev.Locator(".mud-popover-open .mud-list-item", new() { HasText = "prod" }).ClickAsync();
        await dev.ClickAsync("[data-testid=request-postgresql]");
        await dev.WaitForURLAsync(InstanceUrl());
        var state = dev.Locator("[data-testid=instance-state] [data-testid=state]");
        await Assertions.Expect(state).ToHaveAttributeAsync("data-state", "PendingApproval");
        await Assertions.Expect(dev.Locator("[data-testid=status-message]")).ToContainTextAsync("Waiting for approval");

        // The approver sees it in the inbox (with the count in the navigation) and approves with a comment.
        var ann = await SignInAsync("ann@example.com", approver.Password);
        await Assertions.Expect(ann.Locator("[data-testid=approvals-badge]")).ToHaveTextAsync("1");
        await ann.ClickAsync("text=Approvals");
        var card = ann.Locator("[data-testid=approval-launch-db]");
        await Assertions.Expect(card).ToContainTextAsync("devi@example.com asks for postgresql");
        await Assertions.Expect(card).ToContainTextAsync("1. platform");
        await Assertions.Expect(card).ToContainTextAsync("15.00 a month");
        await ann.FillAsync("#comment-launch-db", "capacity is there");
        await ann.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "approvals-inbox.png"), FullPage = true });
        await card.Locator("[data-testid=approve]").ClickAsync();
        await Assertions.Expect(ann.GetByText("Nothing waits for you.")).ToBeVisibleAsync();

        // The developer's page follows live: provisioned after the approval.
        await fixture.ExpectStateAsync(state, "Ready", 60_000);
    }

    [GeneratedRegex("/instances$")]
    private static partial Regex InstancesUrl();

    [GeneratedRegex("/instances/[0-9a-f-]{36}$")]
    private static partial Regex InstanceUrl();
}
