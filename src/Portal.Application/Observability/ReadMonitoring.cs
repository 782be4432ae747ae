using Portal.Application.Access;
using Portal.Provisioning;

namespace Portal.Application.Observability;

/// <summary>A monitoring instance's targets and series: team members who may view it.</summary>
public sealed class ReadMonitoringHandler(InstanceReads reads, TimeProvider clock)
{
    public async Task<IReadOnlyList<ScrapeTarget>> TargetsAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        var (driver, instance) = await reads.ForMemberAsync<IMonitoringDriver>(actor, instanceId, ct);
        return await driver.TargetsAsync(instance, ct);
    }

    public async Task<IReadOnlyList<string>> MetricNamesAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        var (driver, instance) = await reads.ForMemberAsync<IMonitoringDriver>(actor, instanceId, ct);
        return await driver.MetricNamesAsync(instance, ct);
    }

    public async Task<IReadOnlyList<MetricSeries>> QueryAsync(
        Actor actor, Guid instanceId, string? metric, DateTimeOffset? start, DateTimeOffset? end, int? stepSeconds, bool rate,
        CancellationToken ct = default)
    {
        var query = InstanceReads.ValidMetricQuery(metric, start, end, stepSeconds, rate, clock.GetUtcNow());
        var (driver, instance) = await reads.ForMemberAsync<IMonitoringDriver>(actor, instanceId, ct);
        return await driver.QueryRangeAsync(instance, query, ct);
    }
}
