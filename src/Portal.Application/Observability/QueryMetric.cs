using Portal.Application.Access;
using Portal.Provisioning;

namespace Portal.Application.Observability;

/// <summary>A range query over one metric of a monitoring instance's own series: team members who may view it.</summary>
public sealed class QueryMetricHandler(InstanceReads reads, TimeProvider clock)
{
    public async Task<IReadOnlyList<MetricSeries>> HandleAsync(
        Actor actor, Guid instanceId, string? metric, DateTimeOffset? start, DateTimeOffset? end, int? stepSeconds, bool rate,
        CancellationToken ct = default)
    {
        var query = InstanceReads.ValidMetricQuery(metric, start, end, stepSeconds, rate, clock.GetUtcNow());
        var (driver, instance) = await reads.ForMemberAsync<IMonitoringDriver>(actor, instanceId, ct);
        return await driver.QueryRangeAsync(instance, query, ct);
    }
}
