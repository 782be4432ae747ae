using Portal.Application.Access;
using Portal.Provisioning;

namespace Portal.Application.Observability;

/// <summary>Tails and searches a log stream instance: team members who may view it.</summary>
public sealed class ReadLogsHandler(InstanceReads reads)
{
    public async Task<IReadOnlyList<LogEntry>> HandleAsync(
        Actor actor, Guid instanceId, string? contains, DateTimeOffset? since, int? limit, CancellationToken ct = default)
    {
        var query = InstanceReads.ValidLogQuery(contains, since, limit);
        var (driver, instance) = await reads.ForMemberAsync<ILogStreamDriver>(actor, instanceId, ct);
        return await driver.ReadLogsAsync(instance, query, ct);
    }
}
