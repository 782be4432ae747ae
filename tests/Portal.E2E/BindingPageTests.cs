using Microsoft.Playwright;
using Npgsql;

namespace Portal.E2E;

/// <summary>
/// A developer in a real browser binds an app with a client certificate, opens the binding page, reads it in several
/// formats, signs in to PostgreSQL with the certificate alone, rotates it and revokes it — and the server agrees.
/// </summary>
public sealed class BindingPageTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const float Timeout = 60_000;

    [Fact]
    public async Task Browser_BindsWithCertificate_ReadsFormats_Rotates_AndRevokes()
    {
        var page = await fixture.NewPageAsync(Timeout);
        await page.GotoAsync("/catalog");
        await fixture.SignInAsAdminAsync(page);
        await page.WaitForURLAsync("**/catalog");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.Locator("[data-testid=offering-postgresql]").WaitForAsync();
        await page.FillAsync("#name-postgresql", "reports-db");
        await page.ClickAsync("[data-testid=request-postgresql]");
        await page.WaitForURLAsync("**/instances/*");
        await fixture.ExpectStateAsync(page.Locator("[data-testid=instance-state] [data-testid=state]"), "Ready", Timeout);

        await page.FillAsync("#app-name", "report-job");
        await page.GetByText("Client certificate", new() { Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByLabel("Client certificate")).ToBeCheckedAsync();
        await page.ClickAsync("[data-testid=create-binding]");
        var card = page.Locator("[data-testid=binding-report-job]");
        await fixture.ExpectStateAsync(card.Locator("[data-testid=state]"), "Ready", Timeout);
        await card.Locator("[data-testid=open-binding]").ClickAsync();

        await page.WaitForURLAsync("**/bindings/*");
        await Assertions.Expect(page.Locator("[data-testid=binding-name]")).ToHaveTextAsync("report-job");
        await Assertions.Expect(page.Locator("[data-testid=binding-certificate]")).ToContainTextAsync("valid until");
        await Assertions.Expect(page.Locator("[data-testid=binding-generation]")).ToHaveTextAsync("0");
        await Assertions.Expect(page.Locator("[data-testid=binding-next-rotation]")).ToContainTextAsync("the plan sets no schedule");
        await page.ClickAsync("[data-testid=show-credentials]");
        await Assertions.Expect(page.Locator("[data-testid='credential-tls.crt']")).ToContainTextAsync("BEGIN CERTIFICATE");
        await Assertions.Expect(page.Locator("[data-testid=credential-password]")).ToHaveCountAsync(0); // certificate instead of a password
        var first = await CredentialsOnPageAsync(page);

        await page.ClickAsync(".mud-tab:has-text('Kubernetes Secret')");
        await Assertions.Expect(page.Locator("[data-testid=format-k8s]")).ToContainTextAsync("servicebinding.io/postgresql");
        await Assertions.Expect(page.Locator("[data-testid=format-k8s]")).ToContainTextAsync("tls.key");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "binding-page.png"), FullPage = true });
        await page.ClickAsync(".mud-tab:has-text('.env')");
        await Assertions.Expect(page.Locator("[data-testid=format-env]")).ToContainTextAsync("PORTAL_REPORTS_DB_TLS_CRT=\"-----BEGIN CERTIFICATE-----");

        // The signed-in download of the credentials (what the download buttons fetch with the cookie) is never cached.
        var bindingId = new Uri(page.Url).Segments[^1];
        var download = await page.APIRequest.GetAsync($"/bindings/{bindingId}/credentials/download?format=env");
        Assert.Equal(200, download.Status);
        Assert.Contains("no-store", download.Headers["cache-control"], StringComparison.Ordinal);
        Assert.Contains("PORTAL_REPORTS_DB_TLS_CRT", await download.TextAsync(), StringComparison.Ordinal);

        var ca = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("[data-testid=download-ca]"));
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", await File.ReadAllTextAsync(await ca.PathAsync()));

        // The certificate alone signs the app in.
        await using (var connection = await ConnectAsync(first))
        {
            await using var command = new NpgsqlCommand("SELECT session_user::text", connection);
            Assert.Equal(first["username"], await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
        }

        // Rotate with no overlap: generation 1, and the old certificate's user is gone at once.
        await page.FillAsync("#overlap-minutes", "0");
        await page.ClickAsync("[data-testid=rotate-binding]");
        await Assertions.Expect(page.Locator("[data-testid=binding-generation]")).ToHaveTextAsync("1", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("[data-testid=binding-retiring]")).ToHaveCountAsync(0, new() { Timeout = Timeout });
        await page.ClickAsync("[data-testid=show-credentials]");
        await Assertions.Expect(page.Locator("[data-testid='credential-tls.crt']")).ToContainTextAsync("BEGIN CERTIFICATE");
        var second = await CredentialsOnPageAsync(page);
        Assert.NotEqual(first["username"], second["username"]);
        await RefusedSoonAsync(first); // the rotation operation retires generation 0 right after making generation 1
        await (await ConnectAsync(second)).DisposeAsync();

        // The team page lists the binding among the team's credentials, at its new generation.
        var bindingUrl = page.Url;
        await page.GetByRole(AriaRole.Link, new() { Name = "Teams", Exact = true }).ClickAsync();
        await page.Locator("[data-testid=teams-table] a").First.ClickAsync();
        var row = page.Locator("[data-testid=team-bindings] tr", new() { Has = page.Locator("[data-testid=team-binding-link]", new() { HasText = "report-job" }) });
        await Assertions.Expect(row.Locator("[data-testid=team-binding-generation]")).ToContainTextAsync("1");
        await Assertions.Expect(row.Locator("[data-testid=team-binding-certificate]")).Not.ToContainTextAsync("none");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "team-bindings.png"), FullPage = true });
        await row.Locator("[data-testid=team-binding-link]").ClickAsync();
        await page.WaitForURLAsync(bindingUrl);

        // Revoke: confirmed, back on the instance page, and the certificate stops working.
        await page.ClickAsync("[data-testid=revoke-binding]");
        await page.ClickAsync(".mud-dialog button:has-text('Revoke')");
        await page.WaitForURLAsync(new System.Text.RegularExpressions.Regex("/instances/[0-9a-f-]+$"));
        await Assertions.Expect(page.Locator("[data-testid=binding-report-job]")).ToHaveCountAsync(0, new() { Timeout = Timeout });
        await RefusedSoonAsync(second);
    }

    /// <summary>Waits (up to 30 s) until the server refuses the credentials.</summary>
    private static async Task RefusedSoonAsync(Dictionary<string, string> credentials)
    {
        for (var i = 0; i < 60; i++)
        {
            try
            {
                await (await ConnectAsync(credentials)).DisposeAsync();
            }
            catch (NpgsqlException)
            {
                return;
            }

            await Task.Delay(500, TestContext.Current.CancellationToken);
        }

        Assert.Fail($"The server still accepts {credentials["username"]}.");
    }

    private static async Task<Dictionary<string, string>> CredentialsOnPageAsync(IPage page)
    {
        var values = new Dictionary<string, string>();
        foreach (var key in new[] { "host", "port", "database", "username", "ca.crt", "tls.crt", "tls.key" })
        {
            values[key] = await page.Locator($"[data-testid='credential-{key}']").InnerTextAsync();
        }

        return values;
    }

    /// <summary>As an app: TLS verified against ca.crt alone, signed in by the client certificate (no password).</summary>
    private static Task<NpgsqlConnection> ConnectAsync(Dictionary<string, string> credentials) =>
        Portal.Testing.AppClients.OpenPostgresAsync(key => credentials.GetValueOrDefault(key), TestContext.Current.CancellationToken);
}
