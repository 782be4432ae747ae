using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Npgsql;

namespace Portal.E2E;

/// <summary>A person in a real browser: sign in, request a database, watch it become Ready, bind, read the credentials.</summary>
public sealed partial class RequestDatabaseTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const float Timeout = 60_000;

    private async Task<IPage> SignedInPageAsync()
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = fixture.BaseUrl,
            ViewportSize = new ViewportSize { Width = 1440, Height = 1000 },
        });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(Timeout);

        await page.GotoAsync("/");
        await page.WaitForURLAsync(LoginUrl());
        await page.FillAsync("#email", fixture.AdminEmail);
        await page.FillAsync("#password", fixture.AdminPassword);
        await page.ClickAsync("#sign-in");
        await page.WaitForURLAsync(InstancesUrl());
        await WaitInteractiveAsync(page);
        return page;
    }

    private static Task WaitInteractiveAsync(IPage page) =>
        page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });

    [Fact]
    public async Task Browser_RequestsDatabaseBindsAndReadsCredentials_CredentialsWork()
    {
        var page = await SignedInPageAsync();

        await page.ClickAsync("text=Catalog");
        await page.WaitForURLAsync("**/catalog");
        var card = page.Locator("[data-testid=offering-postgresql]");
        await card.WaitForAsync();
        await page.FillAsync("#name-postgresql", "shop-db");
        await page.ClickAsync("[data-testid=request-postgresql]");

        await page.WaitForURLAsync(InstanceUrl());
        await Assertions.Expect(page.Locator("[data-testid=instance-name]")).ToHaveTextAsync("shop-db");
        await fixture.ExpectStateAsync(page.Locator("[data-testid=instance-state] [data-testid=state]"), "Ready", Timeout);

        await page.FillAsync("#app-name", "shop-api");
        await page.ClickAsync("[data-testid=create-binding]");
        var binding = page.Locator("[data-testid=binding-shop-api]");
        await fixture.ExpectStateAsync(binding.Locator("[data-testid=state]"), "Ready", Timeout);
        await binding.Locator("[data-testid=show-credentials]").ClickAsync();
        var uri = binding.Locator("[data-testid=credential-uri]");
        await Assertions.Expect(uri).ToHaveTextAsync(new Regex("^postgresql://"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "instance-credentials.png"), FullPage = true });

        // The same credentials as a Kubernetes Secret (servicebinding.io) and a .env file, downloaded.
        var secret = await page.RunAndWaitForDownloadAsync(() => binding.Locator("[data-testid=download-k8s]").ClickAsync());
        Assert.Equal("shop-api-shop-db-secret.yaml", secret.SuggestedFilename);
        var yaml = await File.ReadAllTextAsync(await secret.PathAsync());
        Assert.Contains("type: \"servicebinding.io/postgresql\"", yaml);
        Assert.Contains(await binding.Locator("[data-testid=credential-password]").InnerTextAsync(), yaml);
        var env = await page.RunAndWaitForDownloadAsync(() => binding.Locator("[data-testid=download-env]").ClickAsync());
        Assert.Contains("PORTAL_SHOP_DB_URI=\"postgresql://", await File.ReadAllTextAsync(await env.PathAsync()));

        // What the page shows is what an app would use: connect with it.
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = await binding.Locator("[data-testid=credential-host]").InnerTextAsync(),
            Port = int.Parse(await binding.Locator("[data-testid=credential-port]").InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture),
            Database = await binding.Locator("[data-testid=credential-database]").InnerTextAsync(),
            Username = await binding.Locator("[data-testid=credential-username]").InnerTextAsync(),
            Password = await binding.Locator("[data-testid=credential-password]").InnerTextAsync(),
            Pooling = false,
        };
        await using (var connection = new NpgsqlConnection(builder.ConnectionString))
        {
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            await using var command = new NpgsqlCommand("SELECT current_database()", connection);
            Assert.Equal(builder.Database, await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
        }

        // The instance is listed, then deleted with confirmation.
        await page.ClickAsync("text=Instances");
        await Assertions.Expect(page.Locator("[data-testid=instance-link]", new() { HasText = "shop-db" })).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "instances.png"), FullPage = true });
        await page.Locator("[data-testid=instance-link]", new() { HasText = "shop-db" }).ClickAsync();
        await page.ClickAsync("[data-testid=delete-instance]");
        await page.ClickAsync(".mud-dialog button:has-text('Delete')");
        await fixture.ExpectStateAsync(page.Locator("[data-testid=instance-state] [data-testid=state]"), "Deleted", Timeout);
    }

    [Fact]
    public async Task Admin_OpensAuditTrail_SeesSignInsAndVerifiesTheChain()
    {
        var page = await SignedInPageAsync();
        await page.ClickAsync("text=Audit");
        await page.WaitForURLAsync("**/audit");
        var grid = page.Locator("[data-testid=audit-grid]");
        await Assertions.Expect(grid).ToContainTextAsync("auth.signed-in");
        await page.ClickAsync("[data-testid=verify-chain]");
        await Assertions.Expect(page.Locator("[data-testid=chain-report]")).ToContainTextAsync("intact");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "audit.png"), FullPage = true });

        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("[data-testid=export-csv]"));
        var csv = await File.ReadAllTextAsync(await download.PathAsync());
        Assert.StartsWith("sequence,at,actor_id", csv);
        Assert.Contains("auth.signed-in", csv);
    }

    [Fact]
    public async Task Browser_WrongPassword_ShowsMessageAndStaysSignedOut()
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fixture.BaseUrl });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/account/login");
        await page.FillAsync("#email", fixture.AdminEmail);
        await page.FillAsync("#password", "not-the-password");
        await page.ClickAsync("#sign-in");
        await Assertions.Expect(page.Locator("[data-testid=login-error]")).ToContainTextAsync("not right");
        await page.GotoAsync("/instances");
        await page.WaitForURLAsync(LoginUrl());
    }

    [GeneratedRegex("/account/login")]
    private static partial Regex LoginUrl();

    [GeneratedRegex("/instances$")]
    private static partial Regex InstancesUrl();

    [GeneratedRegex("/instances/[0-9a-f-]{36}$")]
    private static partial Regex InstanceUrl();
}
