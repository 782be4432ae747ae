namespace Portal.Provisioning;

/// <summary>
/// A driver whose instances are log streams that people read through the portal (page and API), limited
/// to the instance's own stream.
/// </summary>
public interface ILogStreamDriver : IServiceDriver
{
    /// <summary>The stream's newest entries that match the query, oldest first, at most <see cref="LogQuery.Limit"/>.</summary>
    Task<IReadOnlyList<LogEntry>> ReadLogsAsync(InstanceContext instance, LogQuery query, CancellationToken ct);

    /// <summary>Removes what is older than the plan's retention; returns how many files (or chunks) went.</summary>
    Task<int> ApplyRetentionAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>Removes what the collector set aside (messages without a valid token) older than <paramref name="retentionDays"/>.</summary>
    Task<int> ApplyQuarantineRetentionAsync(BackendEndpoint backend, int retentionDays, CancellationToken ct);
}

/// <param name="Contains">Only entries whose message contains this text (case-insensitive); null: all.</param>
/// <param name="Since">Only entries at or after this time; null: no lower bound.</param>
/// <param name="Limit">The most entries to return (the newest ones).</param>
public sealed record LogQuery(string? Contains = null, DateTimeOffset? Since = null, int Limit = 200);

public sealed record LogEntry(DateTimeOffset Timestamp, string Host, string App, string Severity, string Message);

/// <summary>
/// A driver whose instances monitor a team's app: the portal shows the scrape targets' health and charts
/// series, always limited to the instance's own series (the driver builds every selector itself).
/// </summary>
public interface IMonitoringDriver : IServiceDriver
{
    /// <summary>The instance's scrape targets and their health as the monitoring server sees them.</summary>
    Task<IReadOnlyList<ScrapeTarget>> TargetsAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>A range query over the instance's own series of one metric.</summary>
    Task<IReadOnlyList<MetricSeries>> QueryRangeAsync(InstanceContext instance, MetricQuery query, CancellationToken ct);

    /// <summary>The metric names the instance's series have (for pickers).</summary>
    Task<IReadOnlyList<string>> MetricNamesAsync(InstanceContext instance, CancellationToken ct);
}

/// <param name="Url">The scraped URL.</param>
/// <param name="Health"><c>up</c>, <c>down</c> or <c>unknown</c>.</param>
public sealed record ScrapeTarget(string Url, string Health, string? LastError, DateTimeOffset? LastScrape);

/// <param name="Metric">A metric name (<c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>); anything else is refused.</param>
/// <param name="Rate">Chart <c>rate(metric[window])</c> instead of the raw value (for counters).</param>
public sealed record MetricQuery(string Metric, DateTimeOffset Start, DateTimeOffset End, TimeSpan Step, bool Rate = false);

public sealed record MetricSeries(IReadOnlyDictionary<string, string> Labels, IReadOnlyList<MetricPoint> Points);

public sealed record MetricPoint(DateTimeOffset At, double Value);
