using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E;

/// <summary>A developer asks for monitoring of an app's /metrics endpoint and sees the target up and a chart of its series.</summary>
public sealed class MonitoringTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const float Timeout = 90_000;

    [Fact]
    public async Task Developer_MonitorsAnApp_SeesTargetUpAndAChart()
    {
        TestEnvironment.BackendOf("monitoring");
        await fixture.AllowEgressAsync("127.0.0.1"); // the app below listens on loopback
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var app = new HttpListener();
        app.Prefixes.Add($"http://127.0.0.1:{port}/");
        app.Start();
        var requests = 0;
        _ = Task.Run(async () =>
        {
            while (app.IsListening)
            {
                try
                {
                    var context = await app.GetContextAsync();
                    var body = Encoding.UTF8.GetBytes($"# TYPE shop_orders_total counter\nshop_orders_total {100 + Interlocked.Increment(ref requests) * 3}\n");
                    await context.Response.OutputStream.WriteAsync(body);
                    context.Response.Close();
                }
                catch (Exception) when (!app.IsListening)
                {
                    return;
                }
            }
        });

        var page = await fixture.NewPageAsync(Timeout);
        await page.GotoAsync("/catalog");
        await fixture.SignInAsAdminAsync(page);
        await page.WaitForURLAsync("**/catalog");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });

        await page.FillAsync("#name-monitoring", "shop-mon");
        await page.Locator("[data-testid=offering-monitoring] [data-testid=plan-plus]").ClickAsync();
        await page.FillAsync("#param-monitoring-targets", $"127.0.0.1:{port}");
        await page.ClickAsync("[data-testid=request-monitoring]");
        await page.WaitForURLAsync(new Regex("/instances/[0-9a-f-]{36}$"));
        try
        {
            await fixture.ExpectStateAsync(page.Locator("[data-testid=instance-state] [data-testid=state]"), "Ready", Timeout);
        }
        finally
        {
            await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "monitoring-provisioned.png"), FullPage = true });
        }

        // Refresh until Prometheus has scraped the app: the target is up and the metric can be charted.
        var up = page.Locator("[data-testid=target] [data-health=up]");
        for (var i = 0; i < 45 && await up.CountAsync() == 0; i++)
        {
            await page.ClickAsync("[data-testid=targets-refresh]");
            await Task.Delay(1000);
        }

        if (await up.CountAsync() == 0)
        {
            Assert.Fail($"The target 127.0.0.1:{port} was not up after 45 refreshes; the app answered {requests} scrapes. " +
                        $"Prometheus's targets: {await PrometheusTargetsAsync()}\n{await fixture.JobsReportAsync()}");
        }

        await Assertions.Expect(page.Locator("[data-testid=target]")).ToContainTextAsync($"127.0.0.1:{port}");
        await page.ClickAsync("[data-testid=targets-refresh]");
        await page.Locator("[data-testid=metric-select]").ClickAsync();
        await page.Locator(".mud-popover-open .mud-list-item", new() { HasText = "shop_orders_total" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=chart] svg")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "monitoring.png"), FullPage = true });
    }

    /// <summary>What Prometheus says about its active targets (health, last error), for a failure message.</summary>
    private static async Task<string> PrometheusTargetsAsync()
    {
        var endpoint = Provisioning.BackendEndpoint.Parse(TestEnvironment.BackendOf("monitoring"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{endpoint.AdminUser}:{endpoint.AdminPassword}")));
        try
        {
            var body = await http.GetStringAsync($"http://{endpoint.Host}:{endpoint.Port}/api/v1/targets?state=active");
            return body.Length > 4000 ? body[..4000] : body;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return $"(not readable: {e.Message})";
        }
    }
}
