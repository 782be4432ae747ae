using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E;

/// <summary>A developer requests a log stream, binds an app, the app sends syslog, and the developer tails and searches it.</summary>
public sealed partial class LogStreamTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const float Timeout = 60_000;

    [Fact]
    public async Task Developer_TailsAndSearchesTheAppsLogStream()
    {
        TestEnvironment.BackendOf("logging");
        var page = await fixture.NewPageAsync(Timeout);
        await page.GotoAsync("/catalog");
        await fixture.SignInAsAdminAsync(page);
        await page.WaitForURLAsync("**/catalog");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });

        await page.FillAsync("#name-logging", "shop-logs");
        await page.ClickAsync("[data-testid=request-logging]");
        await page.WaitForURLAsync(new Regex("/instances/[0-9a-f-]{36}$"));
        await fixture.ExpectStateAsync(page.Locator("[data-testid=instance-state] [data-testid=state]"), "Ready", Timeout);
        await Assertions.Expect(page.Locator("[data-testid=log-empty]")).ToBeVisibleAsync();

        await page.FillAsync("#app-name", "shop-api");
        await page.ClickAsync("[data-testid=create-binding]");
        var binding = page.Locator("[data-testid=binding-shop-api]");
        await fixture.ExpectStateAsync(binding.Locator("[data-testid=state]"), "Ready", Timeout);
        await binding.Locator("[data-testid=show-credentials]").ClickAsync();
        async Task<string> Credential(string key) => (await binding.Locator($"[data-testid=credential-{key}]").InnerTextAsync()).Trim();

        // The app sends with what the page shows.
        var sd = await Credential("structuredData");
        foreach (var message in new[] { "cart 12 checked out", "disk almost full on shop-3" })
        {
            var line = $"<14>1 {DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} shop-3 shop-api - - {sd} {message}";
            var bytes = Encoding.UTF8.GetBytes(line);
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(await Credential("host"), int.Parse(await Credential("port"), CultureInfo.InvariantCulture));
            await using var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"{bytes.Length} ").Concat(bytes).ToArray());
        }

        // Live tail shows them; a search narrows them down.
        await page.Locator("[data-testid=log-live]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=log-entry]")).ToHaveCountAsync(2, new() { Timeout = 20_000 });
        await page.Locator("[data-testid=log-live]").ClickAsync();
        await page.FillAsync("#log-search", "DISK");
        await page.ClickAsync("[data-testid=log-refresh]");
        await Assertions.Expect(page.Locator("[data-testid=log-entry]")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=log-entry]")).ToContainTextAsync("disk almost full on shop-3");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "log-stream.png"), FullPage = true });
    }
}
