using Microsoft.Playwright;
using Portal.Application.Catalog;
using Portal.Application.Teams;

namespace Portal.E2E;

/// <summary>
/// A platform admin finds Retire and Delete on the offerings page: a retired plan is marked and leaves the catalog,
/// reinstating brings it back, an unused plan is deleted; an owner deletes a team that has nothing live from its page.
/// </summary>
public sealed class RetireAndDeletePageTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Admin_RetiresReinstatesAndDeletesAPlan_AndDeletesAnEmptyTeam()
    {
        var admin = await fixture.AdminAsync();
        var offerings = await fixture.RunAsync<ListOfferingsHandler, IReadOnlyList<OfferingView>>(h => h.HandleAsync());
        var postgres = offerings.Single(o => o.Key == "postgresql");
        await fixture.RunAsync<AddPlanHandler, PlanView>(h => h.HandleAsync(admin, postgres.Id,
            new AddPlan("legacy-e2e", "Legacy E2E", "An old size", 3, [])));
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Sunset E2E", null)));

        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/catalog");
        await fixture.SignInAsAdminAsync(page);
        await page.WaitForURLAsync("**/catalog");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.ClickAsync("text=Offerings & plans");
        await page.WaitForURLAsync("**/admin/offerings");

        var row = page.Locator("[data-testid=plan-postgresql-legacy-e2e]");
        await page.ClickAsync("[data-testid=retire-postgresql-legacy-e2e]");
        await page.ClickAsync(".mud-dialog button:has-text('Retire')");
        await Assertions.Expect(page.GetByText("Legacy E2E retired")).ToBeVisibleAsync();
        await Assertions.Expect(row).ToContainTextAsync("Retired");
        await Assertions.Expect(row.GetByRole(AriaRole.Button, new() { Name = "Reinstate" })).ToBeVisibleAsync();
        Assert.DoesNotContain((await fixture.RunAsync<ListOfferingsHandler, IReadOnlyList<OfferingView>>(h => h.HandleAsync()))
            .Single(o => o.Key == "postgresql").Plans, p => p.Key == "legacy-e2e");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "admin-plan-retired.png"), FullPage = true });

        await row.GetByRole(AriaRole.Button, new() { Name = "Reinstate" }).ClickAsync();
        await Assertions.Expect(page.GetByText("Legacy E2E is back in the catalog")).ToBeVisibleAsync();
        await Assertions.Expect(row).Not.ToContainTextAsync("Retired");

        await page.ClickAsync("[data-testid=delete-postgresql-legacy-e2e]");
        await page.ClickAsync(".mud-dialog button:has-text('Delete')");
        await Assertions.Expect(page.GetByText("Legacy E2E deleted")).ToBeVisibleAsync();
        await Assertions.Expect(row).ToHaveCountAsync(0);

        // The team's page offers its owner (here the admin) Delete team; with nothing live, it goes.
        await page.GotoAsync($"/teams/{team.Id}");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.ClickAsync("[data-testid=delete-team]");
        await page.ClickAsync(".mud-dialog button:has-text('Delete team')");
        await Assertions.Expect(page.GetByText("Sunset E2E deleted")).ToBeVisibleAsync();
        Assert.DoesNotContain(await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin)), t => t.Id == team.Id);
    }
}
