using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Portal.Data;
using Portal.Domain.Operations;

namespace Portal.Application.Telemetry;

/// <summary>
/// The portal's own counters and histogram (meter <see cref="MeterName"/>). Labels take values from small fixed sets
/// (operation kinds, offering keys, outcomes), never ids or user text, so the number of series stays small.
/// A Prometheus scrape names them portal_operations_started_total, portal_operations_finished_total,
/// portal_operation_duration_seconds, portal_webhook_delivery_failures_total, portal_sign_in_failures_total and
/// portal_job_duration_seconds (its _count by outcome counts job runs and failures).
/// </summary>
public sealed class PortalMetrics
{
    public const string MeterName = "Portal";

    private readonly Counter<long> _operationsStarted;
    private readonly Counter<long> _operationsFinished;
    private readonly Histogram<double> _operationDuration;
    private readonly Counter<long> _webhookFailures;
    private readonly Counter<long> _signInFailures;
    private readonly Histogram<double> _jobDuration;

    public PortalMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _operationsStarted = meter.CreateCounter<long>("portal.operations.started", "{operation}",
            "Operations whose job began their first attempt.");
        _operationsFinished = meter.CreateCounter<long>("portal.operations.finished", "{operation}",
            "Operations that ended, by outcome (succeeded or failed).");
        _operationDuration = meter.CreateHistogram<double>("portal.operation.duration", "s",
            "From the request to the end of an operation, retries and waits for the backend included.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] });
        _webhookFailures = meter.CreateCounter<long>("portal.webhook.delivery.failures", "{delivery}",
            "Webhook delivery attempts that failed (an error answer, no answer, or refused by the egress policy).");
        _signInFailures = meter.CreateCounter<long>("portal.sign_in.failures", "{attempt}",
            "Refused sign-ins of people and service accounts.");
        _jobDuration = meter.CreateHistogram<double>("portal.job.duration", "s",
            "Hangfire job runs by job type and outcome (failed: the run threw; Hangfire may retry it).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] });
    }

    public void OperationStarted(OperationKind kind, string offering) =>
        _operationsStarted.Add(1, new("kind", KindLabel(kind)), new("offering", offering));

    /// <summary>An operation ended; call after its end is committed.</summary>
    public void OperationFinished(Operation operation, string offering)
    {
        var outcome = operation.State == OperationState.Succeeded ? "succeeded" : "failed";
        _operationsFinished.Add(1, new("kind", KindLabel(operation.Kind)), new("offering", offering), new("outcome", outcome));
        if (operation.FinishedAt is { } finished)
        {
            _operationDuration.Record(Math.Max(0, (finished - operation.CreatedAt).TotalSeconds),
                new("kind", KindLabel(operation.Kind)), new("offering", offering), new("outcome", outcome));
        }
    }

    /// <param name="reason"><c>http</c> (an error answer or none) or <c>egress_denied</c>.</param>
    public void WebhookDeliveryFailed(string eventType, string reason) =>
        _webhookFailures.Add(1, new("event", eventType), new("reason", reason));

    /// <param name="kind">Who tried: the audit's actor kind (person, service account).</param>
    public void SignInFailed(string kind) => _signInFailures.Add(1, new KeyValuePair<string, object?>("kind", kind));

    /// <param name="job">The job's class name (a fixed set).</param>
    public void JobFinished(string job, bool failed, TimeSpan duration) =>
        _jobDuration.Record(duration.TotalSeconds, new("job", job), new("outcome", failed ? "failed" : "succeeded"));

    private static string KindLabel(OperationKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>
    /// The key of the offering an operation's instance was made from (the <c>offering</c> label); "unknown" when it
    /// cannot be read, since counting must never fail the work it counts.
    /// </summary>
    public static async Task<string> OfferingOfAsync(PortalDbContext db, Guid instanceId, CancellationToken ct)
    {
        try
        {
            return await (from i in db.Instances
                          where i.Id == instanceId
                          join p in db.Plans on i.PlanId equals p.Id
                          join o in db.Offerings on p.OfferingId equals o.Id
                          select o.Key).FirstOrDefaultAsync(ct) ?? "unknown";
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
        {
            return "unknown";
        }
    }
}
