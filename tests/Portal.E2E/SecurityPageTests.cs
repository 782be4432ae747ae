using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Portal.E2E;

/// <summary>
/// The portal's pages in real Chromium under their Content-Security-Policy: every page renders and becomes interactive
/// (the Blazor circuit's WebSocket is allowed) with no CSP violation; signing out ends the session for a copied cookie
/// and, within the revalidation minute, for a tab left open.
/// </summary>
public sealed partial class SecurityPageTests(BrowserFixture fixture, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    private static readonly string[] Pages =
    [
        "/", "/catalog", "/instances", "/teams", "/approvals", "/notifications", "/audit", "/account",
        "/admin/backends", "/admin/offerings", "/admin/users", "/admin/approval-policy", "/admin/operations", "/admin/ca",
    ];

    [Fact]
    public async Task EveryPage_RunsUnderTheContentSecurityPolicy_WithoutViolations_AndSignOutEndsTheSession()
    {
        var page = await fixture.NewPageAsync();
        var violations = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase) ||
                message.Text.Contains("Refused to", StringComparison.Ordinal))
            {
                violations.Add($"{page.Url}: {message.Text}");
            }
        };
        page.PageError += (_, error) => violations.Add($"{page.Url}: page error {error}");

        await page.GotoAsync("/");
        await fixture.SignInAsAdminAsync(page);
        await page.WaitForURLAsync(InstancesOrHome());
        var headers = 0;
        foreach (var path in Pages)
        {
            var response = await page.GotoAsync(path);
            Assert.NotNull(response);
            Assert.True(response.Ok, $"{path}: {response.Status}");
            var csp = await response.HeaderValueAsync("content-security-policy");
            Assert.True(csp is not null && csp.Contains("script-src 'self' 'nonce-", StringComparison.Ordinal), $"{path}: CSP is '{csp}'");
            headers++;
            // Interactive: blazor.web.js ran and the circuit's WebSocket connected under connect-src 'self'.
            await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        }

        // An interactive action on the circuit: the notification list answers a click.
        await page.GotoAsync("/instances");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.ClickAsync("text=Catalog");
        await page.WaitForURLAsync(CatalogUrl());
        await Assertions.Expect(page.Locator("[data-testid=offering-postgresql]")).ToBeVisibleAsync();

        Assert.True(violations.Count == 0, string.Join('\n', violations));
        output.WriteLine($"figures: {headers} pages opened signed in, each with a nonce CSP and interactive; CSP violations and page errors: {violations.Count}");

        // A second tab stays open on an interactive page (its circuit has its own copy of the sign-in).
        var openTab = await page.Context.NewPageAsync();
        await openTab.GotoAsync("/teams");
        await openTab.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });

        // Sign out with the app bar's button; the cookie from before, in a fresh browser, no longer signs anyone in.
        var before = await page.Context.CookiesAsync();
        Assert.Contains(before, c => c.Name == "portal.auth");
        await page.ClickAsync("[aria-label='Sign out']");
        await page.WaitForURLAsync(LoginUrl());
        var signedOutAt = DateTimeOffset.UtcNow;
        var replay = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fixture.BaseUrl });
        await replay.AddCookiesAsync(before.Where(c => c.Name == "portal.auth").Select(c => new Cookie
        {
            Name = c.Name, Value = c.Value, Domain = c.Domain, Path = c.Path, HttpOnly = c.HttpOnly, Secure = c.Secure, SameSite = c.SameSite,
        }));
        var thief = await replay.NewPageAsync();
        await thief.GotoAsync("/admin/users");
        await thief.WaitForURLAsync(LoginUrl());
        await replay.CloseAsync();

        // The open tab's circuit checks the session every minute and is sent to the sign-in page.
        await openTab.WaitForURLAsync(LoginUrl(), new() { Timeout = 100_000 });
        output.WriteLine($"figures: the tab left open was sent to sign-in {(DateTimeOffset.UtcNow - signedOutAt).TotalSeconds:0} s after sign-out");
    }

    [GeneratedRegex("/(instances)?$")]
    private static partial Regex InstancesOrHome();

    [GeneratedRegex("/catalog$")]
    private static partial Regex CatalogUrl();

    [GeneratedRegex("/account/login")]
    private static partial Regex LoginUrl();
}

/// <summary>Too many sign-in attempts from one browser: the portal answers 429 and the browser shows why.</summary>
public sealed class SignInThrottleTests(LimitedBrowserFixture fixture, ITestOutputHelper output) : IClassFixture<LimitedBrowserFixture>
{
    [Fact]
    public async Task WrongPasswords_FromOneBrowser_EndInATooManyAttemptsPage()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/account/login");
        var refusedAfter = 0;
        for (var attempt = 1; attempt <= 15; attempt++)
        {
            await page.FillAsync("#email", fixture.AdminEmail);
            await page.FillAsync("#password", $"wrong-password-{attempt}");
            var response = await page.RunAndWaitForResponseAsync(() => page.ClickAsync("#sign-in"),
                r => r.Request.Method == "POST" && r.Url.Contains("/account/login", StringComparison.Ordinal));
            if (response.Status == 429)
            {
                refusedAfter = attempt - 1;
                Assert.NotNull(await response.HeaderValueAsync("retry-after"));
                await Assertions.Expect(page.Locator("[data-testid=login-throttled]")).ToContainTextAsync("Too many sign-in attempts from your address");
                break;
            }

            Assert.Equal(200, response.Status);
            await Assertions.Expect(page.Locator("[data-testid=login-error]")).ToContainTextAsync("not right");
        }

        Assert.Equal(10, refusedAfter);
        output.WriteLine($"figures: the browser's sign-in posts: {refusedAfter} answered, the next one 429 with the too-many-attempts page");
        await page.ClickAsync("text=Back to sign in");
        await Assertions.Expect(page.Locator("#sign-in")).ToBeVisibleAsync();
    }
}
