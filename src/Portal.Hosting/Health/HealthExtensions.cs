using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Portal.Hosting.Health;

public static class HealthExtensions
{
    public const string LivePath = "/healthz/live";
    public const string ReadyPath = "/healthz/ready";

    /// <summary>Checked by <c>/healthz/ready</c>: what a host needs before it may take work.</summary>
    private const string ReadyTag = "ready";

    /// <summary>A check that hangs (a database that accepts but never answers) fails after this, so probes get an answer.</summary>
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The readiness checks: database, schema, key ring, job storage.</summary>
    public static IHostApplicationBuilder AddPortalHealthChecks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", HealthStatus.Unhealthy, [ReadyTag], CheckTimeout)
            .AddCheck<SchemaHealthCheck>("schema", HealthStatus.Unhealthy, [ReadyTag], CheckTimeout)
            .AddCheck<KeyRingHealthCheck>("key-ring", HealthStatus.Unhealthy, [ReadyTag], CheckTimeout)
            .AddCheck<JobStorageHealthCheck>("job-storage", HealthStatus.Unhealthy, [ReadyTag], CheckTimeout);
        return builder;
    }

    /// <summary>
    /// <c>/healthz/live</c> (the process answers; no dependency is asked, so a database outage never restarts hosts),
    /// <c>/healthz/ready</c> (every check; 503 when one fails) and <c>/healthz</c> (the same as ready). Anonymous: the
    /// answer names each check and its state, nothing else.
    /// </summary>
    public static IEndpointRouteBuilder MapPortalHealthChecks(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync }).AllowAnonymous();
        var ready = new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync };
        endpoints.MapHealthChecks(ReadyPath, ready).AllowAnonymous();
        endpoints.MapHealthChecks("/healthz", ready).AllowAnonymous();
        return endpoints;
    }

    /// <summary>
    /// <c>{"status":"Unhealthy","checks":[{"name":"database","status":"Unhealthy","description":"…"}]}</c>: the
    /// descriptions only, never the exception (it may name hosts and users; the log has it).
    /// </summary>
    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var body = new
        {
            status = report.Status.ToString(),
            durationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.Select(e => new
            {
                name = e.Key,
                status = e.Value.Status.ToString(),
                description = e.Value.Description ?? (e.Value.Exception is OperationCanceledException ? "The check timed out." : null),
                durationMs = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
            }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonOptions), context.RequestAborted);
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };
}
