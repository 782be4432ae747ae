using System.Text.Json;
using Portal.Provisioning.Monitoring;

namespace Portal.Provisioning.Tests.Monitoring;

/// <summary>
/// The alert path end to end: an app on loopback goes down, Prometheus fires the instance's TargetDown rule,
/// Alertmanager routes it to the team's webhook (a loopback <see cref="WebhookReceiver"/>) and to no other.
/// Relies on the short intervals ops/backends/monitoring uses by default (scrape and eval 1 s, alertFor 2 s,
/// group_wait 1 s): a few seconds from down to webhook, plus up to 5 s of file_sd discovery.
/// </summary>
public sealed class MonitoringAlertTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TargetGoesDown_AlertReachesOwnWebhookOnly()
    {
        await using var appA = FakeApp.Start();
        await using var appB = FakeApp.Start();
        using var hookA = WebhookReceiver.Start();
        using var hookB = WebhookReceiver.Start();
        await using var scope = new MonitoringScope();
        var a = await scope.ProvisionedAsync(appA.Target, hookA.Url);
        var b = await scope.ProvisionedAsync(appB.Target, hookB.Url);
        await WaitUpAsync(scope, a);
        await WaitUpAsync(scope, b);

        await appA.StopAsync();

        var firing = await hookA.WaitForAsync("firing", "TargetDown", TestMonitoring.Patience);
        var alert = Assert.Single(firing.GetProperty("alerts").EnumerateArray());
        var labels = alert.GetProperty("labels");
        Assert.Equal(MonitoringNames.Instance(a.InstanceId), labels.GetProperty(MonitoringNames.LabelName).GetString());
        Assert.Equal(appA.Target, labels.GetProperty("instance").GetString());
        Assert.Equal("critical", labels.GetProperty("severity").GetString());
        Assert.Equal($"{appA.Target} is down", alert.GetProperty("annotations").GetProperty("summary").GetString());
        // B's app is up, and A's alert went to A's webhook only.
        Assert.DoesNotContain(hookB.Alerts(), x => x.Status == "firing");
        Assert.DoesNotContain(hookB.Alerts(), x => x.Instance == MonitoringNames.Instance(a.InstanceId));
    }

    [Fact]
    public async Task DeprovisionAsync_FiringAlert_GoneFromAlertmanager()
    {
        await using var app = FakeApp.Start();
        using var hook = WebhookReceiver.Start();
        await using var scope = new MonitoringScope();
        var instance = await scope.ProvisionedAsync(app.Target, hook.Url);
        await WaitUpAsync(scope, instance);
        await app.StopAsync();
        await hook.WaitForAsync("firing", "TargetDown", TestMonitoring.Patience);
        Assert.NotEmpty(await TestMonitoring.AlertmanagerAlertsAsync(instance.InstanceId));

        await scope.Driver.DeprovisionAsync(instance, Ct);

        // Right after deprovisioning, nothing of the instance is active in Alertmanager. Who resolved the alert is
        // timing: the driver, or Prometheus itself when a rule evaluation ran after the target was dropped.
        await MonitoringDriverTests.AssertNothingLeftAsync(instance.InstanceId);
    }

    [Fact]
    public async Task TargetComesBack_ResolvedReachesWebhook()
    {
        var port = FakeApp.FreePort();
        using var hook = WebhookReceiver.Start();
        await using var scope = new MonitoringScope();
        // Nothing listens yet: the target is down from the start.
        var instance = await scope.ProvisionedAsync($"127.0.0.1:{port}", hook.Url, alerts: "targetDown");
        await hook.WaitForAsync("firing", "TargetDown", TestMonitoring.Patience);

        await using var app = FakeApp.StartOn(port);

        var resolved = await hook.WaitForAsync("resolved", "TargetDown", TestMonitoring.Patience);
        Assert.Equal(MonitoringNames.Instance(instance.InstanceId),
            resolved.GetProperty("commonLabels").GetProperty(MonitoringNames.LabelName).GetString());
    }

    private static Task WaitUpAsync(MonitoringScope scope, InstanceContext instance) =>
        TestMonitoring.EventuallyAsync(async () =>
            (await scope.Driver.TargetsAsync(instance, Ct)) is [{ Health: "up" }],
            $"the target of {MonitoringNames.Instance(instance.InstanceId)} is up");
}
