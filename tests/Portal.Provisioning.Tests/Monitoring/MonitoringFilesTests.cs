using System.Text.Json;
using System.Text.Json.Nodes;
using Portal.Provisioning.Monitoring;

namespace Portal.Provisioning.Tests.Monitoring;

public sealed class MonitoringFilesTests
{
    private static readonly Guid Id = Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E");
    private const string Name = "mon-0f8fad5bd9cb469fa16570867728950e";

    private const string Base = """
        {
          "route": {"receiver": "blackhole", "group_wait": "1s", "routes": [{"receiver": "ops", "matchers": ["team=\"ops\""]}]},
          "receivers": [{"name": "blackhole"}, {"name": "ops"}]
        }
        """;

    [Fact]
    public void TargetFile_TwoPaths_GroupsInFixedSlotsWithSchemeAndPath()
    {
        var spec = Spec("a:1 b:2 https://c:3/stats");

        var groups = JsonNode.Parse(MonitoringFiles.TargetFile(spec))!.AsArray();

        Assert.Equal(MonitoringSpec.MaxPathGroups, groups.Count);
        Assert.Equal(["a:1", "b:2"], groups[0]!["targets"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal("http", groups[0]!["labels"]!["__scheme__"]!.GetValue<string>());
        Assert.Equal("/metrics", groups[0]!["labels"]!["__metrics_path__"]!.GetValue<string>());
        Assert.Equal("https", groups[1]!["labels"]!["__scheme__"]!.GetValue<string>());
        Assert.Equal("/stats", groups[1]!["labels"]!["__metrics_path__"]!.GetValue<string>());
        Assert.All(groups.Skip(2), g => Assert.Empty(g!["targets"]!.AsArray()));
        Assert.Null(groups[0]!["labels"]!["__scrape_interval__"]);
        // The instance label comes from the file name (relabelling), never from the file's content.
        Assert.DoesNotContain("portal_instance", MonitoringFiles.TargetFile(spec), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(30, "30s", "10s")]
    [InlineData(5, "5s", "5s")]
    public void TargetFile_ScrapeInterval_SetsIntervalAndTimeoutNotAboveIt(int seconds, string interval, string timeout)
    {
        var spec = Spec("a:1") with { ScrapeIntervalSeconds = seconds };

        var labels = JsonNode.Parse(MonitoringFiles.TargetFile(spec))![0]!["labels"]!;

        Assert.Equal(interval, labels["__scrape_interval__"]!.GetValue<string>());
        Assert.Equal(timeout, labels["__scrape_timeout__"]!.GetValue<string>());
    }

    [Fact]
    public void EmptyTargetFile_AllSlotsEmpty()
    {
        var groups = JsonNode.Parse(MonitoringFiles.EmptyTargetFile())!.AsArray();

        Assert.Equal(MonitoringSpec.MaxPathGroups, groups.Count);
        Assert.All(groups, g => Assert.Empty(g!["targets"]!.AsArray()));
        Assert.Empty(MonitoringFiles.ReadTargetFile(MonitoringFiles.EmptyTargetFile()));
    }

    [Fact]
    public void ReadTargetFile_WrittenFile_GivesSameUrls()
    {
        var spec = Spec("a:1 https://c:3/stats [::1]:9");

        var read = MonitoringFiles.ReadTargetFile(MonitoringFiles.TargetFile(spec));

        Assert.Equal(spec.Targets.Select(t => t.Url).Order(), read.Select(t => t.Url).Order());
    }

    [Fact]
    public void RuleFile_BothTemplates_SelectByInstanceLabelAndCarryIt()
    {
        var rules = JsonNode.Parse(MonitoringFiles.RuleFile(Id, Spec("a:1"), "2m", "5m"))!["groups"]![0]!;

        Assert.Equal(Name, rules["name"]!.GetValue<string>());
        var down = rules["rules"]![0]!;
        Assert.Equal("TargetDown", down["alert"]!.GetValue<string>());
        Assert.Equal($"up{{portal_instance=\"{Name}\"}} == 0", down["expr"]!.GetValue<string>());
        Assert.Equal("2m", down["for"]!.GetValue<string>());
        Assert.Equal(Name, down["labels"]!["portal_instance"]!.GetValue<string>());
        var errors = rules["rules"]![1]!;
        Assert.Equal("HighErrorRate", errors["alert"]!.GetValue<string>());
        Assert.Equal(
            $"sum(rate({{__name__=~\"http_requests_total|http_requests_received_total\",portal_instance=\"{Name}\",code=~\"5..\"}}[5m])) / " +
            $"sum(rate({{__name__=~\"http_requests_total|http_requests_received_total\",portal_instance=\"{Name}\"}}[5m])) > 0.05",
            errors["expr"]!.GetValue<string>());
        Assert.Equal(Name, errors["labels"]!["portal_instance"]!.GetValue<string>());
    }

    [Fact]
    public void RuleFile_NoAlerts_EmptyGroupStillNamed()
    {
        var spec = Spec("a:1") with { Alerts = [] };

        var group = JsonNode.Parse(MonitoringFiles.RuleFile(Id, spec, "2m", "5m"))!["groups"]![0]!;

        Assert.Equal(Name, group["name"]!.GetValue<string>());
        Assert.Empty(group["rules"]!.AsArray());
    }

    [Theory]
    [InlineData("2 m", "5m")]
    [InlineData("2m", "5m]) or vector(1")]
    [InlineData("", "5m")]
    public void RuleFile_NotDurations_Throws(string alertFor, string rateWindow)
    {
        Assert.Throws<ArgumentException>(() => MonitoringFiles.RuleFile(Id, Spec("a:1"), alertFor, rateWindow));
    }

    [Fact]
    public void RouteFragment_Webhook_RouteOnInstanceLabelToOwnReceiver()
    {
        var fragment = JsonNode.Parse(MonitoringFiles.RouteFragment(Id, new Uri("http://127.0.0.1:9/hook")))!;

        Assert.Equal(Name, fragment["route"]!["receiver"]!.GetValue<string>());
        Assert.Equal($"portal_instance=\"{Name}\"", fragment["route"]!["matchers"]![0]!.GetValue<string>());
        Assert.Equal(Name, fragment["receiver"]!["name"]!.GetValue<string>());
        Assert.Equal("http://127.0.0.1:9/hook", fragment["receiver"]!["webhook_configs"]![0]!["url"]!.GetValue<string>());
        Assert.True(fragment["receiver"]!["webhook_configs"]![0]!["send_resolved"]!.GetValue<bool>());
    }

    [Fact]
    public void AlertmanagerConfig_Fragments_AppendedInNameOrderAfterBaseRoutes()
    {
        var b = Guid.NewGuid();
        var a = Guid.Parse("00000000-0000-0000-0000-000000000001");
        var fragments = new[]
        {
            (MonitoringNames.Instance(b) + ".json", MonitoringFiles.RouteFragment(b, new Uri("http://h/b"))),
            (MonitoringNames.Instance(a) + ".json", MonitoringFiles.RouteFragment(a, new Uri("http://h/a"))),
        };

        var config = JsonNode.Parse(MonitoringFiles.AlertmanagerConfig(Base, fragments))!;

        Assert.Equal(["ops", MonitoringNames.Instance(a), MonitoringNames.Instance(b)],
            config["route"]!["routes"]!.AsArray().Select(r => r!["receiver"]!.GetValue<string>()));
        Assert.Equal(["blackhole", "ops", MonitoringNames.Instance(a), MonitoringNames.Instance(b)],
            config["receivers"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()));
        Assert.Equal("1s", config["route"]!["group_wait"]!.GetValue<string>());
    }

    [Fact]
    public void AlertmanagerConfig_NoFragments_IsTheBase()
    {
        var config = MonitoringFiles.AlertmanagerConfig(Base, []);

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Base), JsonNode.Parse(config)));
    }

    [Theory]
    [InlineData("{\"receivers\": []}")]
    [InlineData("[]")]
    public void AlertmanagerConfig_BaseWithoutRouteOrReceivers_Throws(string baseJson)
    {
        Assert.Throws<FormatException>(() => MonitoringFiles.AlertmanagerConfig(baseJson, []));
    }

    [Fact]
    public void AlertmanagerConfig_BrokenFragment_ThrowsNamingIt()
    {
        var e = Assert.ThrowsAny<Exception>(() => MonitoringFiles.AlertmanagerConfig(Base, [("mon-x.json", "{\"route\": {}}")]));

        Assert.True(e is FormatException or JsonException);
        Assert.Contains("mon-x.json", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30s", true)]
    [InlineData("1h30m", true)]
    [InlineData("500ms", true)]
    [InlineData("2", false)]
    [InlineData("-1m", false)]
    [InlineData("1.5m", false)]
    [InlineData("2m\n", false)]
    [InlineData(null, false)]
    public void IsDuration_Text_MatchesPrometheusDurations(string? text, bool expected)
    {
        Assert.Equal(expected, MonitoringFiles.IsDuration(text));
    }

    [Fact]
    public async Task WriteIfChangedAsync_SameContent_DoesNotRewrite()
    {
        var dir = Directory.CreateTempSubdirectory("portal-monitoring-files-");
        try
        {
            var path = Path.Combine(dir.FullName, "x.json");

            Assert.True(await MonitoringFiles.WriteIfChangedAsync(path, "[]", TestContext.Current.CancellationToken));
            Assert.False(await MonitoringFiles.WriteIfChangedAsync(path, "[]", TestContext.Current.CancellationToken));
            Assert.True(await MonitoringFiles.WriteIfChangedAsync(path, "[1]", TestContext.Current.CancellationToken));

            Assert.Equal("[1]", await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
            Assert.Equal(["x.json"], dir.EnumerateFiles().Select(f => f.Name));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static MonitoringSpec Spec(string targets)
    {
        Assert.Null(MonitoringSpec.ParseTargets(targets, out var parsed));
        return new MonitoringSpec(parsed, null, MonitoringSpec.AlertTemplates, null);
    }
}
