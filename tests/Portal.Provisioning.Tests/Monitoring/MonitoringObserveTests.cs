using Portal.Provisioning.Monitoring;

namespace Portal.Provisioning.Tests.Monitoring;

/// <summary>
/// Drift detection against the real Prometheus and Alertmanager: what <see cref="MonitoringDriver.ObserveAsync"/> sees
/// after the instance's files were changed or removed by hand, and that provisioning again repairs it. Bindings keep
/// nothing on the backend, so there is no binding to observe.
/// </summary>
public sealed class MonitoringObserveTests : InstanceObserveTests<MonitoringDriver>
{
    private const string Target = "127.0.0.1:9";
    private const string Webhook = "http://127.0.0.1:9/hook";

    protected override IReadOnlyDictionary<string, int> Plan { get; } = new Dictionary<string, int> { [MonitoringSpec.ScrapeIntervalLimit] = 15 };

    protected override bool TracksBindings => false;

    private protected override DriverScope<MonitoringDriver> NewScope() => new MonitoringScope();

    private protected override InstanceContext NewInstance(DriverScope<MonitoringDriver> scope) =>
        ((MonitoringScope)scope).NewInstance(Target, Webhook, limits: Plan);

    /// <summary>Removes the instance's files by hand and reloads Prometheus, as an operator cleaning up would.</summary>
    private protected override async Task DeleteInstanceByHandAsync(InstanceContext instance)
    {
        foreach (var file in Files(instance))
        {
            File.Delete(file);
        }

        await TestMonitoring.ReloadAsync();
    }

    [Fact]
    public async Task ObserveAsync_RuleFileRemovedByHand_NamedAndProvisionRepairsIt()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var name = MonitoringNames.Instance(instance.InstanceId);
        File.Delete(MonitoringNames.RuleFile(TestMonitoring.ConfigDir, instance.InstanceId));

        var beforeReload = await scope.Driver.ObserveAsync(instance, Ct);
        await TestMonitoring.ReloadAsync();
        var afterReload = await scope.Driver.ObserveAsync(instance, Ct);
        await scope.Driver.ProvisionAsync(instance, Ct);
        var repaired = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.True(beforeReload.Exists);
        Assert.Equal(
            [$"the rule file of {name} is missing", $"Prometheus still evaluates the rule group {name}, whose rule file is gone"],
            beforeReload.Differences);
        Assert.Equal([$"the rule file of {name} is missing"], afterReload.Differences);
        Assert.True(repaired.Exists);
        Assert.Empty(repaired.Differences);
        Assert.Null(repaired.Bindings);
    }

    [Fact]
    public async Task ObserveAsync_RouteFileRemovedByHand_RouteMissingAndAlertmanagerStillRoutes()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var name = MonitoringNames.Instance(instance.InstanceId);

        File.Delete(MonitoringNames.RouteFile(TestMonitoring.ConfigDir, instance.InstanceId));

        Assert.Equal(
            [$"the alert route of {name} is missing", $"Alertmanager still routes the alerts of {name}, whose alert route is gone"],
            (await scope.Driver.ObserveAsync(instance, Ct)).Differences);
    }

    [Fact]
    public async Task ObserveAsync_TargetsEditedByHandOrPlanChanged_TargetFileDiffers()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var name = MonitoringNames.Instance(instance.InstanceId);

        var planChanged = await scope.Driver.ObserveAsync(
            instance with { Limits = new Dictionary<string, int> { [MonitoringSpec.ScrapeIntervalLimit] = 30 } }, Ct);
        await MonitoringFiles.WriteAtomicAsync(MonitoringNames.TargetFile(TestMonitoring.ConfigDir, instance.InstanceId),
            MonitoringFiles.TargetFile(MonitoringSpec.From(instance with
            {
                Parameters = new Dictionary<string, string> { [MonitoringSpec.TargetsParameter] = "127.0.0.1:10" },
            })), Ct);
        var edited = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.Equal([$"the target file of {name} differs from what its settings and plan make"], planChanged.Differences);
        Assert.Equal([$"the target file of {name} differs from what its settings and plan make"], edited.Differences);
    }

    [Fact]
    public async Task ObserveAsync_WebhookDroppedFromInstance_RouteNamedAsSurplus()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var name = MonitoringNames.Instance(instance.InstanceId);

        var observation = await scope.Driver.ObserveAsync(
            instance with { Parameters = new Dictionary<string, string> { [MonitoringSpec.TargetsParameter] = Target } }, Ct);

        Assert.Equal([$"{name} has an alert route, though it has no alert webhook"], observation.Differences);
    }

    [Fact]
    public async Task ObserveAsync_RemovedByHand_ProvisionRepairsIt()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        await DeleteInstanceByHandAsync(instance);

        await scope.Driver.ProvisionAsync(instance, Ct);

        var observation = await scope.Driver.ObserveAsync(instance, Ct);
        Assert.True(observation.Exists);
        Assert.Empty(observation.Differences);
        Assert.Equal(3, Files(instance).Count(File.Exists));
    }

    private static string[] Files(InstanceContext instance) =>
    [
        MonitoringNames.TargetFile(TestMonitoring.ConfigDir, instance.InstanceId),
        MonitoringNames.RuleFile(TestMonitoring.ConfigDir, instance.InstanceId),
        MonitoringNames.RouteFile(TestMonitoring.ConfigDir, instance.InstanceId),
    ];
}
