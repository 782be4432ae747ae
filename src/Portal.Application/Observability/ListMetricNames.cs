using Portal.Application.Access;
using Portal.Provisioning;

namespace Portal.Application.Observability;

/// <summary>The metric names a monitoring instance's series have: team members who may view it.</summary>
public sealed class ListMetricNamesHandler(InstanceReads reads)
{
    public async Task<IReadOnlyList<string>> HandleAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        var (driver, instance) = await reads.ForMemberAsync<IMonitoringDriver>(actor, instanceId, ct);
        return await driver.MetricNamesAsync(instance, ct);
    }
}
