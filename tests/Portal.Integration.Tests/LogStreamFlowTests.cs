using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// A log stream through the REST API on the real rsyslog collector: an app sends RFC 5424 syslog over TCP
/// with its binding's token; the team reads and searches it through the API, the app through the read API
/// with its read token; another stream's messages never show; after unbind both the token and the read
/// token are refused.
/// </summary>
public sealed class LogStreamFlowTests(LogStreamFlowTests.Fixture fixture) : IClassFixture<LogStreamFlowTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Value(JsonNode credentials, string key) => credentials[key]!.GetValue<string>();

    /// <summary>Sends one message as an app would: RFC 5424 over TCP with octet-counted framing (RFC 6587).</summary>
    private static async Task SendAsync(JsonNode credentials, string app, string message, int severity = 6)
    {
        var line = $"<{8 + severity}>1 {DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} test-host {app} - - {Value(credentials, "structuredData")} {message}";
        var bytes = Encoding.UTF8.GetBytes(line);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(Value(credentials, "host"), int.Parse(Value(credentials, "port"), CultureInfo.InvariantCulture), Ct);
        await using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{bytes.Length} "), Ct);
        await stream.WriteAsync(bytes, Ct);
        await stream.FlushAsync(Ct);
    }

    private async Task<JsonArray> ReadWithTokenAsync(JsonNode credentials, string query = "", HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var http = fixture.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Value(credentials, "readUrl")).PathAndQuery + query);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Value(credentials, "readToken"));
        using var response = await http.SendAsync(request, Ct);
        Assert.Equal(expected, response.StatusCode);
        return expected == HttpStatusCode.OK ? JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsArray() : [];
    }

    [Fact]
    public async Task AppSendsWithToken_TeamAndAppReadOnlyTheirStream_UnbindRevokesBoth()
    {
        TestEnvironment.BackendOf("logging");
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (ordersId, _) = await api.RequestReadyAsync(teamId, "logging", "week", "orders-logs");
        var (billingId, _) = await api.RequestReadyAsync(teamId, "logging", "week", "billing-logs");
        var (bindingId, orders) = await api.BindReadyAsync(ordersId, "orders-api");
        var (_, billing) = await api.BindReadyAsync(billingId, "billing-api");
        Assert.Equal("tcp", Value(orders, "protocol"));
        Assert.StartsWith("prt_", Value(orders, "readToken"));
        Assert.EndsWith($"/read/v1/bindings/{bindingId}/logs", Value(orders, "readUrl"));

        await SendAsync(orders, "orders-api", "order 42 shipped");
        await Task.Delay(5, Ct); // distinct millisecond timestamps, so the time order is defined
        await SendAsync(orders, "orders-api", "payment timeout for order 43", severity: 3);
        await SendAsync(billing, "billing-api", "invoice 7 sent by billing");

        // The team, through the API: its stream's entries, searchable; never billing's.
        var entries = await api.WaitForAsync($"/api/v1/instances/{ordersId}/logs",
            list => list.AsArray().Count >= 2, "the orders messages to arrive", seconds: 20);
        // In the senders' time order (each message went over its own connection, so they may have arrived the other way round).
        Assert.Equal(["order 42 shipped", "payment timeout for order 43"], entries.AsArray().Select(e => e!["message"]!.GetValue<string>()));
        Assert.Equal("orders-api", entries[0]!["app"]!.GetValue<string>());
        var found = await api.GetOkAsync($"/api/v1/instances/{ordersId}/logs?contains=TIMEOUT");
        Assert.Equal("payment timeout for order 43", Assert.Single(found.AsArray())!["message"]!.GetValue<string>());
        Assert.DoesNotContain("invoice", entries.ToJsonString());

        // The app, through the read API with its read token: the same stream only.
        var read = await ReadWithTokenAsync(orders, "?limit=10");
        Assert.Equal(2, read.Count);
        Assert.DoesNotContain("invoice", read.ToJsonString());
        var (status, _, _) = await api.SendAsync(HttpMethod.Get, $"/api/v1/instances/{ordersId}/logs?limit=5000");
        Assert.Equal(HttpStatusCode.BadRequest, status);

        // Unbind: the read token is refused, and the app's messages no longer reach the stream.
        await api.UnbindAsync(ordersId, bindingId);
        await ReadWithTokenAsync(orders, expected: HttpStatusCode.Unauthorized);
        await SendAsync(orders, "orders-api", "sent after unbind");
        await Task.Delay(1500, Ct);
        var after = await api.GetOkAsync($"/api/v1/instances/{ordersId}/logs");
        Assert.DoesNotContain("sent after unbind", after.ToJsonString());

        await api.DeleteReadyAsync(ordersId);
        await api.DeleteReadyAsync(billingId);
    }
}
