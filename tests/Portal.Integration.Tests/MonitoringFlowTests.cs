using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// Monitoring through the REST API on the real Prometheus: an app's loopback /metrics endpoint becomes an up
/// target; the team charts its series through the API, the app reads them with its binding's read token;
/// another instance's series never show; after unbind the read token is refused.
/// </summary>
public sealed class MonitoringFlowTests(MonitoringFlowTests.Fixture fixture) : IClassFixture<MonitoringFlowTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A tiny app exposing Prometheus text metrics on a loopback port.</summary>
    private sealed class MetricsApp : IDisposable
    {
        private readonly HttpListener _listener = new();

        public MetricsApp(string metrics)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    try
                    {
                        var context = await _listener.GetContextAsync();
                        var body = Encoding.UTF8.GetBytes(metrics);
                        context.Response.ContentType = "text/plain; version=0.0.4";
                        await context.Response.OutputStream.WriteAsync(body);
                        context.Response.Close();
                    }
                    catch (Exception) when (!_listener.IsListening)
                    {
                        return;
                    }
                }
            });
        }

        public int Port { get; }

        public void Dispose() => _listener.Close();
    }

    [Fact]
    public async Task AppEndpoint_BecomesUpTarget_TeamAndAppReadOnlyItsOwnSeries()
    {
        TestEnvironment.BackendOf("monitoring");
        await fixture.AllowEgressAsync("127.0.0.1"); // the apps below listen on loopback
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        using var orders = new MetricsApp("# TYPE portal_flow_orders_total counter\nportal_flow_orders_total{shop=\"east\"} 42\n");
        using var billing = new MetricsApp("# TYPE portal_flow_orders_total counter\nportal_flow_orders_total{shop=\"billing\"} 7\n");

        var (ordersId, _) = await api.RequestReadyAsync(teamId, "monitoring", "plus", "orders-mon",
            parameters: new Dictionary<string, string> { ["targets"] = $"127.0.0.1:{orders.Port}" });
        var (billingId, _) = await api.RequestReadyAsync(teamId, "monitoring", "plus", "billing-mon",
            parameters: new Dictionary<string, string> { ["targets"] = $"127.0.0.1:{billing.Port}" });

        var targets = await api.WaitForAsync($"/api/v1/instances/{ordersId}/targets",
            list => list.AsArray().Any(t => t!["health"]!.GetValue<string>() == "up"), "the app to be an up target", seconds: 90);
        Assert.Contains($"127.0.0.1:{orders.Port}", Assert.Single(targets.AsArray())!["url"]!.GetValue<string>());
        await api.WaitForAsync($"/api/v1/instances/{ordersId}/metrics",
            names => names.AsArray().Any(n => n!.GetValue<string>() == "portal_flow_orders_total"), "the app's metric to be listed", seconds: 60);

        var series = await api.GetOkAsync($"/api/v1/instances/{ordersId}/metrics/portal_flow_orders_total?step=1&start={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O"))}");
        var only = Assert.Single(series.AsArray())!;
        Assert.Equal("east", only["labels"]!["shop"]!.GetValue<string>());
        Assert.Equal(42, only["points"]!.AsArray().Last()!["value"]!.GetValue<double>());

        // The app reads its own series with its read token; billing's never appear.
        var (bindingId, credentials) = await api.BindReadyAsync(ordersId, "orders-api");
        Assert.Equal("portal_instance", credentials["labelName"]!.GetValue<string>());
        using var http = fixture.CreateClient();
        async Task<HttpResponseMessage> ReadAsync()
        {
            var request = new HttpRequestMessage(HttpMethod.Get, new Uri(credentials["readUrl"]!.GetValue<string>()).PathAndQuery + "/portal_flow_orders_total?step=5");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credentials["readToken"]!.GetValue<string>());
            return await http.SendAsync(request, Ct);
        }

        using (var read = await ReadAsync())
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            var body = await read.Content.ReadAsStringAsync(Ct);
            Assert.Contains("east", body);
            Assert.DoesNotContain("billing", body);
        }

        await api.UnbindAsync(ordersId, bindingId);
        using (var refused = await ReadAsync())
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        await api.DeleteReadyAsync(ordersId);
        await api.DeleteReadyAsync(billingId);
    }
}
