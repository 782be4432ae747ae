using Portal.Provisioning.Monitoring;

namespace Portal.Provisioning.Tests.Monitoring;

/// <summary>
/// Provision, update, bind, deprovision and health checks against the real Prometheus and Alertmanager of
/// <see cref="TestMonitoring"/>, checked through their own APIs and the config directory.
/// </summary>
public sealed class MonitoringDriverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ProvisionAsync_CalledTwice_IsIdempotent()
    {
        await using var scope = new MonitoringScope();
        var instance = scope.NewInstance("127.0.0.1:9", "http://127.0.0.1:9/hook");
        var name = MonitoringNames.Instance(instance.InstanceId);

        var first = await scope.Driver.ProvisionAsync(instance, Ct);
        var files = Snapshot(instance.InstanceId);
        var second = await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(first.Outputs, second.Outputs);
        Assert.Equal($"portal_instance=\"{name}\"", first.Outputs["label"]);
        Assert.Equal(files, Snapshot(instance.InstanceId));
        Assert.Equal(3, files.Count);
        Assert.Single(await TestMonitoring.RuleGroupsAsync(), g => g == name);
        Assert.True(await TestMonitoring.PrometheusReloadSucceededAsync());
        // Once each: the route (receiver and matcher) and the receiver.
        Assert.Equal(3, CountOf(await TestMonitoring.AlertmanagerConfigAsync(), name));
        Assert.Contains($"Writing the alert rules of {name} (targetDown, errorRate)", ((RecordingProgress)instance.Progress).Lines);
    }

    [Fact]
    public async Task ProvisionAsync_Webhook_RoutesInstanceLabelToIt()
    {
        await using var scope = new MonitoringScope();

        var instance = await scope.ProvisionedAsync("127.0.0.1:9", "http://127.0.0.1:9/hook/team");

        var config = await TestMonitoring.AlertmanagerConfigAsync();
        Assert.Contains($"- {MonitoringNames.Matcher(instance.InstanceId)}", config, StringComparison.Ordinal);
        Assert.Contains($"receiver: {MonitoringNames.Instance(instance.InstanceId)}", config, StringComparison.Ordinal);
        // Alertmanager shows webhook URLs as <secret>; the rendered file has it.
        Assert.Contains("\"url\": \"http://127.0.0.1:9/hook/team\"", TestMonitoring.AlertmanagerFile(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProvisionAsync_NoWebhookAndNoAlerts_WritesEmptyRuleGroupAndNoRoute()
    {
        await using var scope = new MonitoringScope();

        var instance = await scope.ProvisionedAsync("127.0.0.1:9", alerts: "none");

        Assert.False(File.Exists(MonitoringNames.RouteFile(TestMonitoring.ConfigDir, instance.InstanceId)));
        Assert.DoesNotContain(MonitoringNames.Instance(instance.InstanceId), await TestMonitoring.AlertmanagerConfigAsync(), StringComparison.Ordinal);
        var rules = await TestMonitoring.PrometheusAsync("api/v1/rules");
        var group = Assert.Single(rules.GetProperty("groups").EnumerateArray(),
            g => g.GetProperty("name").GetString() == MonitoringNames.Instance(instance.InstanceId));
        Assert.Equal(0, group.GetProperty("rules").GetArrayLength());
    }

    [Fact]
    public async Task ProvisionAsync_ScrapeIntervalLimit_AppliedToTargets()
    {
        await using var app = FakeApp.Start();
        await using var scope = new MonitoringScope();

        var instance = await scope.ProvisionedAsync(app.Target, limits: new Dictionary<string, int> { ["scrapeIntervalSeconds"] = 3 });

        await TestMonitoring.EventuallyAsync(async () => (await TestMonitoring.ActiveTargetsAsync(instance.InstanceId)).Count == 1, "the target is active");
        var target = Assert.Single(await TestMonitoring.ActiveTargetsAsync(instance.InstanceId));
        Assert.Equal("3s", target.GetProperty("scrapeInterval").GetString());
        Assert.Equal("3s", target.GetProperty("scrapeTimeout").GetString());
    }

    [Fact]
    public async Task ProvisionAsync_MoreTargetsThanPlanAllows_RefusedAndNothingWritten()
    {
        await using var scope = new MonitoringScope();
        var instance = scope.NewInstance("127.0.0.1:1 127.0.0.1:2 127.0.0.1:3", limits: new Dictionary<string, int> { ["maxTargets"] = 2 });

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.ProvisionAsync(instance, Ct));

        Assert.Contains("maxTargets", e.Message, StringComparison.Ordinal);
        Assert.Empty(TestMonitoring.FilesOf(instance.InstanceId));
    }

    [Fact]
    public async Task ProvisionAsync_InvalidParameters_ThrowsArgumentException()
    {
        await using var scope = new MonitoringScope();
        var instance = scope.NewInstance("ftp://127.0.0.1:21", "not a url");

        var e = await Assert.ThrowsAsync<ArgumentException>(() => scope.Driver.ProvisionAsync(instance, Ct));

        Assert.Contains("targets", e.Message, StringComparison.Ordinal);
        Assert.Contains("alertWebhook", e.Message, StringComparison.Ordinal);
        Assert.Empty(TestMonitoring.FilesOf(instance.InstanceId));
    }

    [Fact]
    public async Task UpdateAsync_NewIntervalAndFewerTargets_AppliedByPrometheus()
    {
        await using var app = FakeApp.Start();
        await using var other = FakeApp.Start();
        await using var scope = new MonitoringScope();
        // Two path groups, so the update also removes a whole group from the target file.
        var instance = await scope.ProvisionedAsync($"{app.Target} http://{other.Target}/other",
            limits: new Dictionary<string, int> { ["scrapeIntervalSeconds"] = 2 });
        await TestMonitoring.EventuallyAsync(async () => (await TestMonitoring.ActiveTargetsAsync(instance.InstanceId)).Count == 2, "two targets");

        var updated = instance with
        {
            Parameters = new Dictionary<string, string> { ["targets"] = app.Target },
            Limits = new Dictionary<string, int> { ["scrapeIntervalSeconds"] = 4 },
        };
        await scope.Driver.UpdateAsync(updated, Ct);

        await TestMonitoring.EventuallyAsync(async () =>
            (await TestMonitoring.ActiveTargetsAsync(instance.InstanceId)) is [var t] && t.GetProperty("scrapeInterval").GetString() == "4s",
            "one target, scraped every 4 s");
        Assert.Equal(app.ScrapeUrl, Assert.Single(await scope.Driver.TargetsAsync(updated, Ct)).Url);
        Assert.True(await TestMonitoring.PrometheusReloadSucceededAsync());
    }

    [Fact]
    public async Task UpdateAsync_WebhookRemoved_RouteGone()
    {
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync("127.0.0.1:9", "http://127.0.0.1:9/hook");

        await scope.Driver.UpdateAsync(instance with { Parameters = new Dictionary<string, string> { ["targets"] = "127.0.0.1:9" } }, Ct);

        Assert.False(File.Exists(MonitoringNames.RouteFile(TestMonitoring.ConfigDir, instance.InstanceId)));
        Assert.DoesNotContain(MonitoringNames.Instance(instance.InstanceId), await TestMonitoring.AlertmanagerConfigAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpdateAsync_NotProvisioned_ThrowsInvalidOperation()
    {
        await using var scope = new MonitoringScope();
        var instance = scope.NewInstance("127.0.0.1:9");

        await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.UpdateAsync(instance, Ct));

        Assert.Empty(TestMonitoring.FilesOf(instance.InstanceId));
    }

    [Fact]
    public async Task ProvisionAsync_ConcurrentInstances_AllRoutesKept()
    {
        await using var scope = new MonitoringScope();
        var instances = Enumerable.Range(0, 6).Select(i => scope.NewInstance("127.0.0.1:9", $"http://127.0.0.1:9/hook/{i}")).ToList();

        // One alertmanager.yml is rendered from all fragments: without the lock, writers would drop each other's routes.
        await Task.WhenAll(instances.Select(i => Task.Run(() => scope.Driver.ProvisionAsync(i, Ct), Ct)));

        var config = await TestMonitoring.AlertmanagerConfigAsync();
        Assert.All(instances, i => Assert.Contains(MonitoringNames.Instance(i.InstanceId), config, StringComparison.Ordinal));
        var groups = await TestMonitoring.RuleGroupsAsync();
        Assert.All(instances, i => Assert.Contains(MonitoringNames.Instance(i.InstanceId), groups));
    }

    [Fact]
    public async Task ProvisionAsync_AfterCrashWithRulesOnly_Completes()
    {
        await using var scope = new MonitoringScope();
        var instance = scope.NewInstance("127.0.0.1:9", "http://127.0.0.1:9/hook");
        // A crash right after the rule file was written: no route, no reloads, no target file.
        await File.WriteAllTextAsync(MonitoringNames.RuleFile(TestMonitoring.ConfigDir, instance.InstanceId),
            MonitoringFiles.RuleFile(instance.InstanceId, MonitoringSpec.From(instance), "2s", "10s"), Ct);
        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);

        await scope.Driver.ProvisionAsync(instance, Ct);

        var report = await scope.Driver.CheckAsync(instance, Ct);
        Assert.True(report.Healthy, report.Message);
        Assert.Contains(MonitoringNames.Instance(instance.InstanceId), await TestMonitoring.AlertmanagerConfigAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BindAsync_Provisioned_ReturnsWhatTheAppNeeds()
    {
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync("127.0.0.1:9100 https://app.example:8443/stats", alerts: "targetDown");
        var binding = MonitoringScope.NewBinding(instance);

        var credentials = await scope.Driver.BindAsync(binding, Ct);
        var again = await scope.Driver.BindAsync(binding, Ct);

        var v = credentials.Values;
        Assert.Equal(["scrapeUrls", "scrapeInterval", "job", "labelName", "labelValue", "alerts"], v.Keys);
        Assert.Equal("http://127.0.0.1:9100/metrics https://app.example:8443/stats", v["scrapeUrls"]);
        Assert.Equal("1s", v["scrapeInterval"]); // the test server's global interval
        Assert.Equal(MonitoringNames.JobName, v["job"]);
        Assert.Equal("portal_instance", v["labelName"]);
        Assert.Equal(MonitoringNames.Instance(instance.InstanceId), v["labelValue"]);
        Assert.Equal("targetDown", v["alerts"]);
        Assert.Equal(v, again.Values);
    }

    [Fact]
    public async Task BindAsync_ScrapeIntervalLimit_ReportsPlanInterval()
    {
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync("127.0.0.1:9", limits: new Dictionary<string, int> { ["scrapeIntervalSeconds"] = 30 });

        var credentials = await scope.Driver.BindAsync(MonitoringScope.NewBinding(instance), Ct);

        Assert.Equal("30s", credentials.Values["scrapeInterval"]);
    }

    [Fact]
    public async Task BindAsync_NotProvisioned_ThrowsInvalidOperation()
    {
        await using var scope = new MonitoringScope();
        var instance = scope.NewInstance("127.0.0.1:9");

        await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.BindAsync(MonitoringScope.NewBinding(instance), Ct));
    }

    [Fact]
    public async Task UnbindAsync_CalledTwiceAndAfterDeprovision_Succeeds()
    {
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync("127.0.0.1:9");
        var binding = MonitoringScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);

        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.Empty(TestMonitoring.FilesOf(instance.InstanceId));
    }

    [Fact]
    public async Task BindAndRetireAsync_NextGeneration_SameSettingsAndNothingChangesOnTheServers()
    {
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync("127.0.0.1:9", alerts: "targetDown");
        var binding = MonitoringScope.NewBinding(instance);
        var first = await scope.Driver.BindAsync(binding, Ct);
        var files = TestMonitoring.FilesOf(instance.InstanceId).ToDictionary(f => f, File.ReadAllText);

        var rotated = await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);
        await scope.Driver.RetireAsync(binding with { Generation = 1 }, 0, Ct);
        await scope.Driver.RetireAsync(binding with { Generation = 1 }, 0, Ct);

        Assert.Equal(first.Values, rotated.Values);
        Assert.Equal(files, TestMonitoring.FilesOf(instance.InstanceId).ToDictionary(f => f, File.ReadAllText));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => scope.Driver.RetireAsync(binding, -1, Ct));
    }

    [Fact]
    public async Task DeprovisionAsync_ScrapedInstance_NothingLeftAndReloadClean()
    {
        await using var app = FakeApp.Start();
        app.Metrics.CreateGauge("left_behind", "Must be deleted").Set(3);
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync(app.Target, "http://127.0.0.1:9/hook");
        var name = MonitoringNames.Instance(instance.InstanceId);
        await TestMonitoring.EventuallyAsync(async () =>
            (await TestMonitoring.QueryAsync($"left_behind{MonitoringNames.Selector(instance.InstanceId)}")).Count == 1, "the series is stored");

        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);

        await AssertNothingLeftAsync(instance.InstanceId);
        // The samples are deleted, not just stale: a range query over the past finds nothing.
        var past = await TestMonitoring.PrometheusAsync(
            $"api/v1/query?query={Uri.EscapeDataString($"count_over_time({{{MonitoringNames.Matcher(instance.InstanceId)}}}[10m])")}");
        Assert.Equal(0, past.GetProperty("result").GetArrayLength());
        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
        Assert.Contains($"Deleting the stored series of {name}", ((RecordingProgress)instance.Progress).Lines);
    }

    [Fact]
    public async Task DeprovisionAsync_NeverProvisioned_Succeeds()
    {
        await using var scope = new MonitoringScope();
        var instance = scope.NewInstance("127.0.0.1:9");

        await scope.Driver.DeprovisionAsync(instance, Ct);

        await AssertNothingLeftAsync(instance.InstanceId);
    }

    [Fact]
    public async Task DeprovisionAsync_AfterCrashWithTargetFileGone_RemovesRestAndStillScrapedTargets()
    {
        await using var app = FakeApp.Start();
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync(app.Target, "http://127.0.0.1:9/hook");
        await TestMonitoring.EventuallyAsync(async () => (await TestMonitoring.ActiveTargetsAsync(instance.InstanceId)).Count == 1, "the target is active");
        // What a crash in an older deprovision could leave: the target file deleted and Prometheus reloaded at once
        // (which can keep the target scraped), rules and route still there.
        File.Delete(MonitoringNames.TargetFile(TestMonitoring.ConfigDir, instance.InstanceId));

        await scope.Driver.DeprovisionAsync(instance, Ct);

        await AssertNothingLeftAsync(instance.InstanceId);
    }

    [Fact]
    public async Task DeprovisionAsync_OtherInstance_KeepsItsTargetsRulesAndRoute()
    {
        await using var app = FakeApp.Start();
        await using var scope = new MonitoringScope();
        var gone = await scope.ProvisionedAsync("127.0.0.1:9", "http://127.0.0.1:9/gone");
        var kept = await scope.ProvisionedAsync(app.Target, "http://127.0.0.1:9/kept");

        await scope.Driver.DeprovisionAsync(gone, Ct);

        var report = await scope.Driver.CheckAsync(kept, Ct);
        Assert.True(report.Healthy, report.Message);
        Assert.Contains(MonitoringNames.Instance(kept.InstanceId), await TestMonitoring.AlertmanagerConfigAsync(), StringComparison.Ordinal);
        Assert.Contains("http://127.0.0.1:9/kept", TestMonitoring.AlertmanagerFile(), StringComparison.Ordinal);
        await TestMonitoring.EventuallyAsync(async () =>
            (await scope.Driver.TargetsAsync(kept, Ct)) is [{ Health: "up" }], "the kept instance's target is up");
    }

    [Fact]
    public async Task CheckAsync_Provisioned_ReportsHealthyWithTargetCounts()
    {
        await using var app = FakeApp.Start();
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync(app.Target, "http://127.0.0.1:9/hook");
        await TestMonitoring.EventuallyAsync(async () =>
            (await scope.Driver.TargetsAsync(instance, Ct)) is [{ Health: "up" }], "the target is up");

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.Equal($"{MonitoringNames.Instance(instance.InstanceId)} is monitored: 1 targets (1 up)", report.Message);
    }

    [Fact]
    public async Task CheckAsync_NotProvisioned_ReportsNoTargetFile()
    {
        await using var scope = new MonitoringScope();
        var instance = scope.NewInstance("127.0.0.1:9");

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.Equal($"{MonitoringNames.Instance(instance.InstanceId)} has no target file", report.Message);
    }

    [Fact]
    public async Task CheckAsync_PrometheusUnreachable_ReportsUnhealthy()
    {
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync("127.0.0.1:9");

        var report = await scope.Driver.CheckAsync(instance with { Backend = TestMonitoring.Endpoint with { Port = 1 } }, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("not reachable", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_AdminCredentials_ReportsHealthyWithVersions()
    {
        var report = await MonitoringScope.NewDriver().TestBackendAsync(TestMonitoring.Endpoint, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.StartsWith("Prometheus 2.", report.Message, StringComparison.Ordinal);
        Assert.Contains("Alertmanager 0.", report.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(TestMonitoring.ConfigDir, ".portal-probe-*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task TestBackendAsync_WrongPassword_ReportsUnhealthy()
    {
        var backend = TestMonitoring.Endpoint with { AdminPassword = "wrong-" + Guid.NewGuid().ToString("N") };

        var report = await MonitoringScope.NewDriver().TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("401", report.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(backend.AdminPassword, report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_ConfigDirPrometheusDoesNotRead_ReportsUnhealthy()
    {
        var elsewhere = Directory.CreateTempSubdirectory("portal-monitoring-");
        try
        {
            var report = await MonitoringScope.NewDriver().TestBackendAsync(WithSetting("configDir", elsewhere.FullName), Ct);

            Assert.False(report.Healthy);
            Assert.Contains("does not read", report.Message, StringComparison.Ordinal);
        }
        finally
        {
            elsewhere.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task TestBackendAsync_AlertmanagerUnreachable_ReportsUnhealthy()
    {
        var report = await MonitoringScope.NewDriver().TestBackendAsync(WithSetting("alertmanagerUrl", "http://127.0.0.1:1"), Ct);

        Assert.False(report.Healthy);
        Assert.Contains("Alertmanager", report.Message, StringComparison.Ordinal);
        Assert.Contains("not reachable", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_NoConfigDir_ReportsUnhealthy()
    {
        var backend = TestMonitoring.Endpoint;
        backend = backend with { Settings = backend.Settings.Where(s => s.Key != "configDir").ToDictionary() };

        var report = await MonitoringScope.NewDriver().TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("configDir", report.Message, StringComparison.Ordinal);
    }

    /// <summary>No file, target, rule group, route, alert or readable sample of the instance; Prometheus reloaded cleanly.</summary>
    internal static async Task AssertNothingLeftAsync(Guid instanceId)
    {
        var name = MonitoringNames.Instance(instanceId);
        Assert.Empty(TestMonitoring.FilesOf(instanceId));
        Assert.Empty(await TestMonitoring.ActiveTargetsAsync(instanceId));
        Assert.DoesNotContain(name, await TestMonitoring.RuleGroupsAsync());
        Assert.True(await TestMonitoring.PrometheusReloadSucceededAsync());
        Assert.DoesNotContain(name, await TestMonitoring.AlertmanagerConfigAsync(), StringComparison.Ordinal);
        Assert.Empty(await TestMonitoring.AlertmanagerAlertsAsync(instanceId));
        Assert.Empty(await TestMonitoring.QueryAsync(MonitoringNames.Selector(instanceId)));
    }

    private static BackendEndpoint WithSetting(string name, string value)
    {
        var backend = TestMonitoring.Endpoint;
        var settings = backend.Settings.ToDictionary();
        settings[name] = value;
        return backend with { Settings = settings };
    }

    private static Dictionary<string, string> Snapshot(Guid instanceId) =>
        TestMonitoring.FilesOf(instanceId).ToDictionary(f => f, File.ReadAllText);

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
