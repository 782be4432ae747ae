using Portal.Application.Access;
using Portal.Provisioning;

namespace Portal.Application.Observability;

/// <summary>A monitoring instance's scrape targets and their health: team members who may view it.</summary>
public sealed class ListScrapeTargetsHandler(InstanceReads reads)
{
    public async Task<IReadOnlyList<ScrapeTarget>> HandleAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        var (driver, instance) = await reads.ForMemberAsync<IMonitoringDriver>(actor, instanceId, ct);
        return await driver.TargetsAsync(instance, ct);
    }
}
