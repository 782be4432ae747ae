using Portal.Provisioning.Monitoring;

namespace Portal.Provisioning.Tests.Monitoring;

public sealed class MonitoringSpecTests
{
    [Fact]
    public void ParameterUrls_TargetsAndAlertWebhook_AreListedAsWrittenForTheEgressPolicy()
    {
        var urls = MonitoringSpec.ParameterUrls(new Dictionary<string, string>
        {
            [MonitoringSpec.TargetsParameter] = "2130706433:9100, https://app.example/stats\n[::1]:9100",
            [MonitoringSpec.AlertWebhookParameter] = " http://hooks.example/alerts ",
        });

        Assert.Equal(
        [
            new ParameterUrl("targets", "http://2130706433:9100", true),
            new ParameterUrl("targets", "https://app.example/stats", true),
            new ParameterUrl("targets", "http://[::1]:9100", true),
            new ParameterUrl("alertWebhook", "http://hooks.example/alerts", true),
        ], urls);
    }

    [Theory]
    [InlineData("127.0.0.1:9100", "http://127.0.0.1:9100/metrics")]
    [InlineData("app.internal:8080", "http://app.internal:8080/metrics")]
    [InlineData("[::1]:9100", "http://[::1]:9100/metrics")]
    [InlineData("http://app:8080", "http://app:8080/metrics")]
    [InlineData("http://app:8080/", "http://app:8080/metrics")]
    [InlineData("https://app.example/stats", "https://app.example:443/stats")]
    [InlineData("http://app:80/actuator/prometheus", "http://app:80/actuator/prometheus")]
    [InlineData("HTTP://App:8080/Metrics", "http://app:8080/Metrics")]
    public void ParseTargets_ValidEntry_GivesScrapeUrl(string entry, string url)
    {
        Assert.Null(MonitoringSpec.ParseTargets(entry, out var targets));

        Assert.Equal(url, Assert.Single(targets).Url);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("app")]
    [InlineData("app:9100/metrics")]
    [InlineData("ftp://app:21")]
    [InlineData("file:///etc/passwd")]
    [InlineData("http://user:secret@app:9100/metrics")]
    [InlineData("http://app:9100/metrics?x=1")]
    [InlineData("http://app:9100/metrics#frag")]
    [InlineData("http://app:99999")]
    [InlineData("app:9100 app:9100")]
    [InlineData("not a host:1")]
    public void ParseTargets_InvalidText_ReturnsError(string text)
    {
        Assert.NotNull(MonitoringSpec.ParseTargets(text, out _));
    }

    [Fact]
    public void ParseTargets_SpacesCommasAndNewlines_AllSeparate()
    {
        Assert.Null(MonitoringSpec.ParseTargets("a:1, b:2\nc:3\t d:4", out var targets));

        Assert.Equal(["a:1", "b:2", "c:3", "d:4"], targets.Select(t => t.Address));
    }

    [Fact]
    public void ParseTargets_TooManyTargetsOrPaths_ReturnsError()
    {
        var many = string.Join(' ', Enumerable.Range(1, MonitoringSpec.MaxTargets + 1).Select(i => $"app:{i}"));
        var paths = string.Join(' ', Enumerable.Range(1, MonitoringSpec.MaxPathGroups + 1).Select(i => $"http://app:1/p{i}"));

        Assert.NotNull(MonitoringSpec.ParseTargets(many, out _));
        Assert.NotNull(MonitoringSpec.ParseTargets(paths, out _));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9000/hook")]
    [InlineData("https://hooks.example/alerts?team=a")]
    [InlineData("")]
    public void ParseWebhook_Valid_ReturnsNoError(string text)
    {
        Assert.Null(MonitoringSpec.ParseWebhook(text, out _));
    }

    [Theory]
    [InlineData("hooks.example/alerts")]
    [InlineData("mailto:team@example.org")]
    [InlineData("https://user:pw@hooks.example/alerts")]
    [InlineData("https://hooks.example/alerts#x")]
    public void ParseWebhook_Invalid_ReturnsError(string text)
    {
        Assert.NotNull(MonitoringSpec.ParseWebhook(text, out _));
    }

    [Theory]
    [InlineData(null, new[] { "targetDown", "errorRate" })]
    [InlineData("", new[] { "targetDown", "errorRate" })]
    [InlineData("none", new string[0])]
    [InlineData("errorRate targetDown errorRate", new[] { "targetDown", "errorRate" })]
    [InlineData("errorRate", new[] { "errorRate" })]
    public void ParseAlerts_Valid_GivesTemplatesInFixedOrder(string? text, string[] expected)
    {
        Assert.Null(MonitoringSpec.ParseAlerts(text, out var alerts));

        Assert.Equal(expected, alerts);
    }

    [Theory]
    [InlineData("cpuHigh")]
    [InlineData("none targetDown")]
    [InlineData("TargetDown")]
    public void ParseAlerts_Unknown_ReturnsError(string text)
    {
        Assert.NotNull(MonitoringSpec.ParseAlerts(text, out _));
    }

    [Fact]
    public void Validate_AllBad_OneErrorPerParameter()
    {
        var errors = MonitoringSpec.Validate(new Dictionary<string, string>
        {
            ["targets"] = "ftp://x:1",
            ["alertWebhook"] = "nope",
            ["alerts"] = "cpu",
        });

        Assert.Equal(["alertWebhook", "alerts", "targets"], errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Validate_MissingTargets_IsError()
    {
        Assert.Contains("targets", MonitoringSpec.Validate(new Dictionary<string, string>()).Keys);
    }

    [Fact]
    public void From_PlanLimits_AppliedAndChecked()
    {
        var instance = Instance("a:1 a:2", new Dictionary<string, int> { ["maxTargets"] = 2, ["scrapeIntervalSeconds"] = 30 });

        var spec = MonitoringSpec.From(instance);

        Assert.Equal(30, spec.ScrapeIntervalSeconds);
        Assert.Throws<InvalidOperationException>(() =>
            MonitoringSpec.From(Instance("a:1 a:2 a:3", new Dictionary<string, int> { ["maxTargets"] = 2 })));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            MonitoringSpec.From(Instance("a:1", new Dictionary<string, int> { ["scrapeIntervalSeconds"] = 0 })));
        Assert.Null(MonitoringSpec.From(Instance("a:1", new Dictionary<string, int> { ["scrapeIntervalSeconds"] = -1 })).ScrapeIntervalSeconds);
    }

    private static InstanceContext Instance(string targets, Dictionary<string, int> limits) =>
        new(Guid.NewGuid(), new BackendEndpoint("h", 1, "u", "p"), limits, new RecordingProgress())
        {
            Parameters = new Dictionary<string, string> { ["targets"] = targets },
        };
}
