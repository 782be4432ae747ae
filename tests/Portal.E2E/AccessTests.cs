using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Portal.Application.Accounts;
using Portal.Application.Instances;
using Portal.Application.Teams;

namespace Portal.E2E;

/// <summary>What people without the platform-admin role see, and may not open, in a real browser.</summary>
public sealed partial class AccessTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private async Task<IPage> SignInAsync(string email, string password)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fixture.BaseUrl });
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
    public async Task Viewer_OpensTeamInstance_SeesItButNoActionsAndNoAdmin()
    {
        var admin = await fixture.AdminAsync();
        var user = await fixture.RunAsync<CreateUserHandler, UserCreated>(h => h.HandleAsync(admin, new CreateUser("vic@example.com", "Vic Viewer", false)));
        var teams = await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin));
        var demo = teams.Single(t => t.Slug == "demo");
        await fixture.RunAsync<SetMemberHandler, TeamMemberView>(h => h.HandleAsync(admin, demo.Id, new SetMember("vic@example.com", "viewer")));
        var instance = await fixture.RunAsync<RequestInstanceHandler, AcceptedChange<InstanceSummary>>(
            h => h.HandleAsync(admin, new RequestInstance(demo.Id, "postgresql", "small", "viewed-db")));

        var page = await SignInAsync("vic@example.com", user.Password);
        await Assertions.Expect(page.Locator("[data-testid=instance-link]", new() { HasText = "viewed-db" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Admin")).ToHaveCountAsync(0);

        await page.ClickAsync("[data-testid=instance-link]");
        await Assertions.Expect(page.Locator("[data-testid=instance-name]")).ToHaveTextAsync("viewed-db");
        await fixture.ExpectStateAsync(page.Locator("[data-testid=instance-state] [data-testid=state]"), "Ready", 60_000);
        await Assertions.Expect(page.Locator("[data-testid=delete-instance]")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("[data-testid=create-binding]")).ToHaveCountAsync(0);

        // The catalog offers no team to a viewer.
        await page.ClickAsync("text=Catalog");
        await Assertions.Expect(page.Locator("[data-testid=offering-postgresql]").GetByText("Join a team as a developer or owner")).ToBeVisibleAsync();

        // Admin pages and the jobs dashboard are closed.
        foreach (var path in new[] { "/admin/backends", "/admin/ca", "/admin/egress", "/ops/jobs" })
        {
            await page.GotoAsync(path);
            await page.WaitForURLAsync(DeniedUrl());
        }

        await fixture.RunAsync<DeleteInstanceHandler, AcceptedChange<InstanceSummary>>(h => h.HandleAsync(admin, instance.Value.Id));
    }

    [Fact]
    public async Task Developer_OfAnotherTeam_DoesNotSeeDemoInstances()
    {
        var admin = await fixture.AdminAsync();
        var teams = await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin));
        var demo = teams.Single(t => t.Slug == "demo");
        await fixture.RunAsync<RequestInstanceHandler, AcceptedChange<InstanceSummary>>(
            h => h.HandleAsync(admin, new RequestInstance(demo.Id, "postgresql", "small", "secret-db")));
        var user = await fixture.RunAsync<CreateUserHandler, UserCreated>(h => h.HandleAsync(admin, new CreateUser("dev@example.com", "Dev", false)));
        var other = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Payments", null)));
        await fixture.RunAsync<SetMemberHandler, TeamMemberView>(h => h.HandleAsync(admin, other.Id, new SetMember("dev@example.com", "developer")));

        var page = await SignInAsync("dev@example.com", user.Password);
        await Assertions.Expect(page.GetByText("No instances yet")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=instance-link]")).ToHaveCountAsync(0);
        await page.ClickAsync("text=Teams");
        await Assertions.Expect(page.Locator("[data-testid=teams-table]")).ToContainTextAsync("Payments");
        await Assertions.Expect(page.Locator("[data-testid=teams-table]")).Not.ToContainTextAsync("Demo team");
    }

    [Fact]
    public async Task Person_ChangesGeneratedPassword_SignsInWithTheNewOne()
    {
        var admin = await fixture.AdminAsync();
        var user = await fixture.RunAsync<CreateUserHandler, UserCreated>(h => h.HandleAsync(admin, new CreateUser("pat@example.com", "Pat", false)));
        var page = await SignInAsync("pat@example.com", user.Password);

        await page.ClickAsync("[data-testid=signed-in-user]");
        await page.WaitForURLAsync("**/account");
        await page.FillAsync("#current-password", "wrong-password-1");
        await page.FillAsync("#new-password", "a-new-long-passphrase");
        await page.ClickAsync("[data-testid=change-password]");
        await Assertions.Expect(page.Locator("[data-testid=password-message]")).ToContainTextAsync("not right");

        await page.FillAsync("#current-password", user.Password);
        await page.ClickAsync("[data-testid=change-password]");
        await Assertions.Expect(page.Locator("[data-testid=password-message]")).ToContainTextAsync("changed");

        await SignInAsync("pat@example.com", "a-new-long-passphrase");
    }

    [GeneratedRegex("/instances$")]
    private static partial Regex InstancesUrl();

    [Fact]
    public async Task Admin_RegistersBackendWithSiteAndCapacity_SeesItsUseAndHealth()
    {
        var page = await SignInAsync(fixture.AdminEmail, fixture.AdminPassword);
        await page.GotoAsync("/admin/backends");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        var real = Portal.Testing.TestEnvironment.Backend;
        await page.FillAsync("#backend-name", "pg-dc2");
        await page.FillAsync("#backend-site", "dc2");
        await page.FillAsync("#backend-capacity", "3");
        await page.FillAsync("#backend-host", real.Host!);
        await page.FillAsync("#backend-port", real.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.FillAsync("#backend-admin-user", real.Username!);
        await page.FillAsync("#backend-admin-password", real.Password!);
        await page.ClickAsync("[data-testid=register-backend]");

        await Assertions.Expect(page.Locator("[data-testid=use-pg-dc2]")).ToContainTextAsync("0 of 3");
        await page.ClickAsync("[data-testid=test-pg-dc2]");
        var row = page.Locator("[data-testid=backends-table] tr", new() { Has = page.Locator("[data-testid=use-pg-dc2]") });
        await Assertions.Expect(row).ToContainTextAsync("Reachable");
        await Assertions.Expect(row).ToContainTextAsync("dc2");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "backends.png"), FullPage = true });

        // The PostgreSQL offering may now place instances on it too; the catalog then offers both sites.
        await page.GotoAsync("/admin/offerings");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.Locator("[data-testid=backends-postgresql]").ClickAsync();
        await page.Locator(".mud-popover-open .mud-list-item", new() { HasText = "pg-dc2 (dc2)" }).ClickAsync();
        await Assertions.Expect(page.GetByText("New PostgreSQL database instances go to demo-postgres, pg-dc2")).ToBeVisibleAsync();
        await page.Keyboard.PressAsync("Escape");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "offerings.png"), FullPage = true });
        await page.GotoAsync("/catalog");
        await Assertions.Expect(page.Locator("[data-testid=offering-postgresql] [data-testid=site-select]")).ToBeVisibleAsync();
    }

    [GeneratedRegex("/account/denied")]
    private static partial Regex DeniedUrl();
}
