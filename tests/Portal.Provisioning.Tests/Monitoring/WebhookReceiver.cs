using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;

namespace Portal.Provisioning.Tests.Monitoring;

/// <summary>A team's alert webhook on loopback: records every notification Alertmanager posts to it.</summary>
internal sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<JsonElement> _received = [];
    private readonly Channel<JsonElement> _arrivals = Channel.CreateUnbounded<JsonElement>();

    private WebhookReceiver(int port)
    {
        Url = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/hook/";
        _listener.Prefixes.Add(Url);
    }

    public string Url { get; }

    /// <summary>Every notification so far.</summary>
    public IReadOnlyList<JsonElement> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    public static WebhookReceiver Start()
    {
        var receiver = new WebhookReceiver(FakeApp.FreePort());
        receiver._listener.Start();
        _ = receiver.ServeAsync();
        return receiver;
    }

    /// <summary>Waits for a notification with the status (<c>firing</c>/<c>resolved</c>) and an alert with the name.</summary>
    public async Task<JsonElement> WaitForAsync(string status, string alertName, TimeSpan timeout)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout);
        foreach (var seen in Received)
        {
            if (Matches(seen, status, alertName))
            {
                return seen;
            }
        }

        try
        {
            while (true)
            {
                var next = await _arrivals.Reader.ReadAsync(cts.Token);
                if (Matches(next, status, alertName))
                {
                    return next;
                }
            }
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"No {status} {alertName} notification at {Url} within {timeout.TotalSeconds} s; " +
                $"got {Received.Count} others: {string.Join(" | ", Received.Select(r => r.GetRawText()))}");
            throw;
        }
    }

    /// <summary>Alert names and their instance labels in every notification received.</summary>
    public IEnumerable<(string Status, string Alert, string Instance)> Alerts() =>
        Received.SelectMany(n => n.GetProperty("alerts").EnumerateArray().Select(a => (
            a.GetProperty("status").GetString()!,
            a.GetProperty("labels").GetProperty("alertname").GetString()!,
            a.GetProperty("labels").TryGetProperty("portal_instance", out var i) ? i.GetString()! : "")));

    public void Dispose() => _listener.Close();

    private static bool Matches(JsonElement notification, string status, string alertName) =>
        notification.GetProperty("status").GetString() == status
        && notification.GetProperty("alerts").EnumerateArray()
            .Any(a => a.GetProperty("labels").GetProperty("alertname").GetString() == alertName);

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using (var document = await JsonDocument.ParseAsync(context.Request.InputStream))
            {
                var body = document.RootElement.Clone();
                lock (_received)
                {
                    _received.Add(body);
                }

                _arrivals.Writer.TryWrite(body);
            }

            context.Response.StatusCode = 200;
            context.Response.Close();
        }
    }
}
