using Portal.Provisioning.Monitoring;

namespace Portal.Provisioning.Tests.Monitoring;

/// <summary>
/// The read side against the real Prometheus of <see cref="TestMonitoring"/>: targets, charts and metric names of
/// an instance, with apps that expose their metrics through prometheus-net — and never another instance's series.
/// </summary>
public sealed class MonitoringQueryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ProvisionAsync_AppMetricsEndpoint_BecomesUpTarget()
    {
        await using var app = FakeApp.Start();
        await using var scope = new MonitoringScope();

        var instance = await scope.ProvisionedAsync(app.Target);

        await TestMonitoring.EventuallyAsync(async () =>
            (await scope.Driver.TargetsAsync(instance, Ct)) is [{ Health: "up" }], "the app's target is up");
        var target = Assert.Single(await scope.Driver.TargetsAsync(instance, Ct));
        Assert.Equal(app.ScrapeUrl, target.Url);
        Assert.Null(target.LastError);
        Assert.NotNull(target.LastScrape);
        var up = Assert.Single(await TestMonitoring.QueryAsync($"up{MonitoringNames.Selector(instance.InstanceId)}"));
        Assert.Equal("1", up.GetProperty("value")[1].GetString());
        Assert.Equal(MonitoringNames.JobName, up.GetProperty("metric").GetProperty("job").GetString());
    }

    [Fact]
    public async Task TargetsAsync_BeforeDiscovery_ListsFileTargetsAsUnknown()
    {
        await using var scope = new MonitoringScope();
        var port = FakeApp.FreePort();

        var instance = await scope.ProvisionedAsync($"127.0.0.1:{port} https://app.invalid:8443/stats");
        var targets = await scope.Driver.TargetsAsync(instance, Ct);

        // Right after provisioning Prometheus may or may not have discovered them; either way both are listed.
        Assert.Equal([$"http://127.0.0.1:{port}/metrics", "https://app.invalid:8443/stats"], targets.Select(t => t.Url));
        await TestMonitoring.EventuallyAsync(async () =>
            (await scope.Driver.TargetsAsync(instance, Ct)).All(t => t.Health == "down"), "both targets are down");
        Assert.All(await scope.Driver.TargetsAsync(instance, Ct), t => Assert.NotNull(t.LastError));
    }

    [Fact]
    public async Task QueryRangeAsync_TwoInstancesSameMetric_ReturnsOnlyOwnSeries()
    {
        await using var appA = FakeApp.Start();
        await using var appB = FakeApp.Start();
        appA.Metrics.CreateGauge("orders_open", "Open orders").Set(11);
        appB.Metrics.CreateGauge("orders_open", "Open orders").Set(22);
        appB.Metrics.CreateGauge("only_in_b", "A metric only B has").Set(1);
        await using var scope = new MonitoringScope();
        var a = await scope.ProvisionedAsync(appA.Target);
        var b = await scope.ProvisionedAsync(appB.Target);
        await WaitForSeriesAsync(scope, a, "orders_open");
        await WaitForSeriesAsync(scope, b, "orders_open");

        var now = DateTimeOffset.UtcNow;
        var series = await scope.Driver.QueryRangeAsync(a, new MetricQuery("orders_open", now.AddMinutes(-2), now, TimeSpan.FromSeconds(1)), Ct);

        var only = Assert.Single(series);
        Assert.Equal(MonitoringNames.Instance(a.InstanceId), only.Labels[MonitoringNames.LabelName]);
        Assert.Equal(appA.Target, only.Labels["instance"]);
        Assert.NotEmpty(only.Points);
        Assert.All(only.Points, p => Assert.Equal(11, p.Value));
        Assert.Empty(await scope.Driver.QueryRangeAsync(a, new MetricQuery("only_in_b", now.AddMinutes(-2), now, TimeSpan.FromSeconds(1)), Ct));
        var names = await scope.Driver.MetricNamesAsync(a, Ct);
        Assert.Contains("orders_open", names);
        Assert.Contains("up", names);
        Assert.DoesNotContain("only_in_b", names);
        Assert.Contains("only_in_b", await scope.Driver.MetricNamesAsync(b, Ct));
    }

    [Fact]
    public async Task QueryRangeAsync_RateOfCounter_ReturnsPerSecondRate()
    {
        await using var app = FakeApp.Start();
        var counter = app.Metrics.CreateCounter("jobs_done_total", "Jobs done");
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync(app.Target);
        using var ticking = new CancellationTokenSource();
        var ticker = Task.Run(async () =>
        {
            while (!ticking.IsCancellationRequested)
            {
                counter.Inc(10);
                await Task.Delay(100, CancellationToken.None);
            }
        }, Ct);
        try
        {
            await WaitForSeriesAsync(scope, instance, "jobs_done_total");
            IReadOnlyList<MetricSeries> series = [];
            // 10 every 100 ms is about 100/s; the first windows of a new series extrapolate low, so wait for a full one.
            await TestMonitoring.EventuallyAsync(async () =>
            {
                var now = DateTimeOffset.UtcNow;
                series = await scope.Driver.QueryRangeAsync(instance,
                    new MetricQuery("jobs_done_total", now.AddSeconds(-30), now, TimeSpan.FromSeconds(2), Rate: true), Ct);
                return series is [{ Points: [.., var last] }] && last.Value is > 50 and < 200;
            }, "a rate of about 100/s");

            var rate = Assert.Single(series);
            Assert.False(rate.Labels.ContainsKey("__name__"));
            Assert.Equal(MonitoringNames.Instance(instance.InstanceId), rate.Labels[MonitoringNames.LabelName]);
        }
        finally
        {
            await ticking.CancelAsync();
            await ticker;
        }
    }

    [Fact]
    public async Task ScrapedSeries_AppClaimsOtherInstanceLabel_StoredUnderOwnInstance()
    {
        await using var appA = FakeApp.Start();
        await using var scope = new MonitoringScope();
        var b = await scope.ProvisionedAsync($"127.0.0.1:{FakeApp.FreePort()}");
        appA.Metrics.CreateGauge("spoof", "Claims to be B's", [MonitoringNames.LabelName])
            .WithLabels(MonitoringNames.Instance(b.InstanceId)).Set(7);
        var a = await scope.ProvisionedAsync(appA.Target);

        await WaitForSeriesAsync(scope, a, "spoof");

        var now = DateTimeOffset.UtcNow;
        var ofA = Assert.Single(await scope.Driver.QueryRangeAsync(a, new MetricQuery("spoof", now.AddMinutes(-1), now, TimeSpan.FromSeconds(5)), Ct));
        Assert.Equal(MonitoringNames.Instance(a.InstanceId), ofA.Labels[MonitoringNames.LabelName]);
        Assert.DoesNotContain(ofA.Labels.Keys, k => k.StartsWith("exported_", StringComparison.Ordinal));
        Assert.Empty(await scope.Driver.QueryRangeAsync(b, new MetricQuery("spoof", now.AddMinutes(-1), now, TimeSpan.FromSeconds(5)), Ct));
        Assert.Empty(await TestMonitoring.QueryAsync($"spoof{MonitoringNames.Selector(b.InstanceId)}"));
    }

    [Theory]
    [InlineData("up or {__name__=~\".+\"}")]
    [InlineData("up{portal_instance=\"mon-00000000000000000000000000000000\"}")]
    [InlineData("{__name__=\"up\"}")]
    [InlineData("sum(up)")]
    [InlineData("up[5m]")]
    [InlineData("")]
    public async Task QueryRangeAsync_NotAMetricName_RefusedBeforeAnyQuery(string metric)
    {
        await using var scope = new MonitoringScope();
        var instance = scope.NewInstance("127.0.0.1:9");
        var now = DateTimeOffset.UtcNow;

        await Assert.ThrowsAsync<ArgumentException>(() =>
            scope.Driver.QueryRangeAsync(instance, new MetricQuery(metric, now.AddMinutes(-1), now, TimeSpan.FromSeconds(5)), Ct));
    }

    [Fact]
    public async Task MetricNamesAsync_NotProvisioned_ReturnsNothing()
    {
        await using var scope = new MonitoringScope();
        var instance = scope.NewInstance("127.0.0.1:9");

        Assert.Empty(await scope.Driver.MetricNamesAsync(instance, Ct));
        Assert.Empty(await scope.Driver.TargetsAsync(instance, Ct));
    }

    private static Task WaitForSeriesAsync(MonitoringScope scope, InstanceContext instance, string metric) =>
        TestMonitoring.EventuallyAsync(async () =>
        {
            var now = DateTimeOffset.UtcNow;
            var series = await scope.Driver.QueryRangeAsync(instance, new MetricQuery(metric, now.AddMinutes(-1), now, TimeSpan.FromSeconds(1)), Ct);
            return series.Count > 0;
        }, $"{metric} of {MonitoringNames.Instance(instance.InstanceId)} is stored");
}
