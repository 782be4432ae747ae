using System.Diagnostics;
using Hangfire.Common;
using Hangfire.Server;
using Portal.Application.Telemetry;

namespace Portal.Hosting.Telemetry;

/// <summary>
/// A span around each Hangfire job run (source <see cref="ActivitySourceName"/>), so the job's database and backend calls
/// and its log lines share one trace id, and the run's duration and outcome as <c>portal_job_duration_seconds</c>.
/// Set on this host's job server only (<see cref="ProviderFor"/>), not in Hangfire's process-wide filters.
/// </summary>
public sealed class JobTelemetryFilter(PortalMetrics metrics) : IServerFilter
{
    public const string ActivitySourceName = "Portal.Jobs";

    private static readonly ActivitySource Source = new(ActivitySourceName);

    private const string ActivityKey = "Portal.Telemetry.Activity";
    private const string StartedKey = "Portal.Telemetry.Started";

    public void OnPerforming(PerformingContext context)
    {
        var job = context.BackgroundJob.Job;
        var activity = Source.StartActivity($"job {job.Type.Name}.{job.Method.Name}", ActivityKind.Internal);
        activity?.SetTag("job.type", job.Type.Name);
        activity?.SetTag("job.id", context.BackgroundJob.Id);
        context.Items[ActivityKey] = activity;
        context.Items[StartedKey] = Stopwatch.GetTimestamp();
    }

    public void OnPerformed(PerformedContext context)
    {
        var failed = context.Exception is not null && !context.ExceptionHandled;
        if (context.Items.TryGetValue(StartedKey, out var started) && started is long timestamp)
        {
            metrics.JobFinished(context.BackgroundJob.Job.Type.Name, failed, Stopwatch.GetElapsedTime(timestamp));
        }

        if (context.Items.TryGetValue(ActivityKey, out var value) && value is Activity activity)
        {
            if (failed)
            {
                // The type only: an exception message may name servers or users.
                activity.SetStatus(ActivityStatusCode.Error);
                activity.SetTag("error.type", context.Exception!.GetType().FullName);
            }

            activity.Dispose();
        }
    }

    /// <summary>Hangfire's usual filters (global and attributes) plus this one, for one job server's options.</summary>
    public static IJobFilterProvider ProviderFor(JobTelemetryFilter filter) =>
        new JobFilterProviderCollection(JobFilterProviders.Providers, new SingleFilterProvider(filter));

    private sealed class SingleFilterProvider(object filter) : IJobFilterProvider
    {
        public IEnumerable<JobFilter> GetFilters(Job job) => [new JobFilter(filter, JobFilterScope.Global, null)];
    }
}
