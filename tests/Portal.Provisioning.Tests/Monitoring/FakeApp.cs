using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Prometheus;

namespace Portal.Provisioning.Tests.Monitoring;

/// <summary>
/// A team's app as Prometheus sees it: a loopback HTTP endpoint serving <c>/metrics</c> through prometheus-net
/// (its own registry, so apps in one test run do not share metrics). <see cref="StopAsync"/> makes it go down.
/// </summary>
internal sealed class FakeApp : IAsyncDisposable
{
    private readonly MetricServer _server;

    private FakeApp(int port, CollectorRegistry registry)
    {
        Port = port;
        Registry = registry;
        Metrics = Prometheus.Metrics.WithCustomRegistry(registry);
        _server = new MetricServer("127.0.0.1", port, "metrics/", registry);
    }

    public int Port { get; }

    public CollectorRegistry Registry { get; }

    public IMetricFactory Metrics { get; }

    /// <summary>The target as the <c>targets</c> parameter gives it.</summary>
    public string Target => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The URL Prometheus scrapes.</summary>
    public string ScrapeUrl => $"http://{Target}/metrics";

    public static FakeApp Start() => StartOn(FreePort());

    /// <summary>An app on the given port, e.g. one a target already names.</summary>
    public static FakeApp StartOn(int port)
    {
        var app = new FakeApp(port, Prometheus.Metrics.NewCustomRegistry());
        app._server.Start();
        return app;
    }

    public Task StopAsync() => _server.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync();
        _server.Dispose();
    }

    /// <summary>A loopback port that was free a moment ago.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
