using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.Monitoring;
using Portal.Provisioning.Tests.RabbitMq;

namespace Portal.Provisioning.Tests.Monitoring;

/// <summary>Monitoring instances on <see cref="TestMonitoring"/>'s servers, deprovisioned when the test ends.</summary>
internal sealed class MonitoringScope() : DriverScope<MonitoringDriver>(NewDriver(), () => TestMonitoring.Endpoint)
{
    public static MonitoringDriver NewDriver() => new(new TestHttpClientFactory(), NullLogger<MonitoringDriver>.Instance);

    /// <summary>A new instance that scrapes <paramref name="targets"/> and posts alerts to <paramref name="webhook"/>.</summary>
    public InstanceContext NewInstance(string targets, string? webhook = null, string? alerts = null,
        IReadOnlyDictionary<string, int>? limits = null)
    {
        var parameters = new Dictionary<string, string> { [MonitoringSpec.TargetsParameter] = targets };
        if (webhook is not null)
        {
            parameters[MonitoringSpec.AlertWebhookParameter] = webhook;
        }

        if (alerts is not null)
        {
            parameters[MonitoringSpec.AlertsParameter] = alerts;
        }

        return NewInstance(limits) with { Parameters = parameters };
    }

    /// <summary>A new instance like <see cref="NewInstance(string, string?, string?, IReadOnlyDictionary{string, int}?)"/>, provisioned.</summary>
    public async Task<InstanceContext> ProvisionedAsync(string targets, string? webhook = null, string? alerts = null,
        IReadOnlyDictionary<string, int>? limits = null)
    {
        var instance = NewInstance(targets, webhook, alerts, limits);
        await Driver.ProvisionAsync(instance, Ct);
        return instance;
    }
}
