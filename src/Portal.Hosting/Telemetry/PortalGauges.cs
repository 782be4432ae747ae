using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Portal.Application.Telemetry;
using Portal.Data;
using Portal.Domain.Approvals;
using Portal.Domain.Operations;

namespace Portal.Hosting.Telemetry;

/// <summary>
/// The portal's gauges that are read from the database: job queue depth, unfinished operations and the age of the
/// oldest, pending approvals, failed jobs, backend health. A scrape reads a snapshot that is at most
/// <c>Metrics:GaugeMaxAge</c> old (15 s by default), so scrapes from several Prometheus servers cost one set of small
/// queries; a database that does not answer yields no gauge values (and a warning in the log) rather than a failed scrape.
/// </summary>
public sealed class PortalGauges
{
    private readonly IDbContextFactory<PortalDbContext> _dbFactory;
    private readonly TimeProvider _clock;
    private readonly ILogger<PortalGauges> _logger;
    private readonly TimeSpan _maxAge;
    private readonly Lock _gate = new();
    private Snapshot? _snapshot;
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;
    private Task? _reading;

    private sealed record Snapshot(
        IReadOnlyList<Count> Enqueued, long FailedJobs, IReadOnlyList<Count> Unfinished, double? OldestUnfinishedAge,
        long PendingApprovals, IReadOnlyList<BackendHealth> Backends);

    private sealed record Count(string Key, long Value);

    private sealed record BackendHealth(string Name, string Kind, string Site, bool Healthy);

    /// <summary>A row of Hangfire's queue table, grouped (SqlQueryRaw maps columns by name).</summary>
    private sealed record QueueCount(string Queue, long Jobs);

    public PortalGauges(IMeterFactory meters, IDbContextFactory<PortalDbContext> dbFactory, IConfiguration configuration, TimeProvider clock,
        ILogger<PortalGauges> logger)
    {
        _dbFactory = dbFactory;
        _clock = clock;
        _logger = logger;
        _maxAge = configuration.GetValue("Metrics:GaugeMaxAge", TimeSpan.FromSeconds(15));
        var meter = meters.Create(PortalMetrics.MeterName);
        meter.CreateObservableGauge("portal.jobs.enqueued", () => Read<long>(s => s.Enqueued.Select(c => new Measurement<long>(c.Value, new KeyValuePair<string, object?>("queue", c.Key)))),
            "{job}", "Jobs waiting in a Hangfire queue for a worker.");
        meter.CreateObservableGauge("portal.jobs.failed", () => Read<long>(s => [new Measurement<long>(s.FailedJobs)]),
            "{job}", "Hangfire jobs in the Failed state (they stay until retried or deleted on the jobs dashboard).");
        meter.CreateObservableGauge("portal.operations.unfinished", () => Read<long>(s => s.Unfinished.Select(c => new Measurement<long>(c.Value, new KeyValuePair<string, object?>("state", c.Key)))),
            "{operation}", "Operations that are queued or running.");
        meter.CreateObservableGauge("portal.operations.oldest_unfinished.age",
            () => Read<double>(s => s.OldestUnfinishedAge is { } age ? [new Measurement<double>(age)] : []),
            "s", "How long ago the oldest queued or running operation was requested.");
        meter.CreateObservableGauge("portal.approvals.pending", () => Read<long>(s => [new Measurement<long>(s.PendingApprovals)]),
            "{request}", "Requests waiting for an approver's decision.");
        meter.CreateObservableGauge("portal.backend.healthy",
            () => Read<long>(s => s.Backends.Select(b => new Measurement<long>(b.Healthy ? 1 : 0,
                new KeyValuePair<string, object?>("backend", b.Name), new KeyValuePair<string, object?>("kind", b.Kind),
                new KeyValuePair<string, object?>("site", b.Site)))),
            unit: null, "1 when the backend's last health check passed, 0 when it failed (backends never checked are left out).");
    }

    private IEnumerable<Measurement<T>> Read<T>(Func<Snapshot, IEnumerable<Measurement<T>>> pick) where T : struct =>
        Current() is { } snapshot ? pick(snapshot).ToList() : [];

    /// <summary>The snapshot, read again when older than the maximum age; waits up to 3 s for a read in progress.</summary>
    private Snapshot? Current()
    {
        Task? reading;
        lock (_gate)
        {
            if (_clock.GetUtcNow() - _readAt >= _maxAge && _reading is null or { IsCompleted: true })
            {
                _readAt = _clock.GetUtcNow();
                _reading = Task.Run(ReadAsync);
            }

            reading = _reading;
        }

        reading?.Wait(TimeSpan.FromSeconds(3));
        return _snapshot;
    }

    private async Task ReadAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var ct = timeout.Token;
        try
        {
            await using var db = await _dbFactory.CreateDbContextAsync(ct);
            var enqueued = await db.Database.SqlQueryRaw<QueueCount>(
                    $"""SELECT queue AS "Queue", count(*) AS "Jobs" FROM {JobsExtensions.Schema}.jobqueue WHERE fetchedat IS NULL GROUP BY queue""")
                .ToListAsync(ct);
            var failedJobs = await db.Database.SqlQueryRaw<long>(
                    $"""SELECT count(*) AS "Value" FROM {JobsExtensions.Schema}.job WHERE statename = 'Failed'""")
                .SingleAsync(ct);
            var unfinished = await db.Operations.AsNoTracking()
                .Where(o => o.State == OperationState.Queued || o.State == OperationState.Running)
                .GroupBy(o => o.State)
                .Select(g => new { State = g.Key, Count = g.LongCount(), Oldest = g.Min(o => o.CreatedAt) })
                .ToListAsync(ct);
            var pending = await db.ApprovalRequests.LongCountAsync(r => r.Status == RequestStatus.Pending, ct);
            var backends = await db.Backends.AsNoTracking()
                .Where(b => b.RetiredAt == null && b.LastCheckHealthy != null)
                .Select(b => new BackendHealth(b.Name, b.Kind, b.Site, b.LastCheckHealthy!.Value))
                .ToListAsync(ct);
            var now = _clock.GetUtcNow();
            _snapshot = new Snapshot(
                enqueued.Select(q => new Count(q.Queue, q.Jobs)).ToList(),
                failedJobs,
                [.. Enum.GetValues<OperationState>().Where(s => s is OperationState.Queued or OperationState.Running)
                    .Select(s => new Count(s.ToString().ToLowerInvariant(), unfinished.FirstOrDefault(u => u.State == s)?.Count ?? 0))],
                unfinished.Count == 0 ? null : Math.Max(0, (now - unfinished.Min(u => u.Oldest)).TotalSeconds),
                pending,
                backends);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // No values rather than stale ones: a gauge that stops means "unknown", which alerts can tell apart.
            _snapshot = null;
            _logger.LogWarning("The portal's gauges could not be read from the database: {Error}", e.GetType().Name);
        }
    }
}
