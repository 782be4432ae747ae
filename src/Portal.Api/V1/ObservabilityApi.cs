using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Observability;
using Portal.Provisioning;

namespace Portal.Api.V1;

/// <summary>
/// Logs and metrics of log stream and monitoring instances: for team members under <c>/api/v1/instances</c>,
/// and for apps with a binding's read token under <c>/read/v1/bindings</c>.
/// </summary>
public static class ObservabilityApi
{
    public static RouteGroupBuilder MapObservabilityApi(this RouteGroupBuilder api)
    {
        var instances = api.MapGroup("/instances/{instanceId:guid}").WithTags("Logs and metrics");
        instances.MapGet("/logs", MemberLogs).WithSummary("Tail and search a log stream: the newest entries, oldest first");
        instances.MapGet("/targets", MemberTargets).WithSummary("A monitoring instance's scrape targets and their health");
        instances.MapGet("/metrics", MemberMetricNames).WithSummary("The metric names a monitoring instance's series have");
        instances.MapGet("/metrics/{metric}", MemberQuery).WithSummary("A range query over one metric of the instance's own series");
        return api;
    }

    /// <summary>The read API: <c>Authorization: Bearer &lt;readToken&gt;</c> of a binding, no portal sign-in.</summary>
    public static IEndpointRouteBuilder MapReadApi(this IEndpointRouteBuilder app)
    {
        var read = app.MapGroup("/read/v1/bindings/{bindingId:guid}").WithTags("Read API (binding read tokens)")
            .AllowAnonymous()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithInputRules();
        read.MapGet("/logs", TokenLogs).WithSummary("The binding's log stream, with its read token");
        read.MapGet("/metrics", TokenMetricNames).WithSummary("Metric names of the binding's monitoring instance, with its read token");
        read.MapGet("/metrics/{metric}", TokenQuery).WithSummary("A range query over the binding's instance's own series, with its read token");
        read.MapGet("/targets", TokenTargets).WithSummary("Scrape targets of the binding's monitoring instance, with its read token");
        return app;
    }

    public static async Task<Ok<IReadOnlyList<LogEntry>>> MemberLogs(
        HttpContext http, Guid instanceId, string? contains, DateTimeOffset? since, int? limit, ReadLogsHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), instanceId, contains, since, limit, ct));

    public static async Task<Ok<IReadOnlyList<ScrapeTarget>>> MemberTargets(
        HttpContext http, Guid instanceId, ListScrapeTargetsHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), instanceId, ct));

    public static async Task<Ok<IReadOnlyList<string>>> MemberMetricNames(
        HttpContext http, Guid instanceId, ListMetricNamesHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), instanceId, ct));

    public static async Task<Ok<IReadOnlyList<MetricSeries>>> MemberQuery(
        HttpContext http, Guid instanceId, string metric, DateTimeOffset? start, DateTimeOffset? end, int? step, bool? rate,
        QueryMetricHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), instanceId, metric, start, end, step, rate ?? false, ct));

    public static async Task<Ok<IReadOnlyList<LogEntry>>> TokenLogs(
        HttpContext http, Guid bindingId, string? contains, DateTimeOffset? since, int? limit, InstanceReads reads, CancellationToken ct)
    {
        var query = InstanceReads.ValidLogQuery(contains, since, limit);
        var (driver, instance) = await reads.ForReadTokenAsync<ILogStreamDriver>(bindingId, BearerToken(http), ct);
        return TypedResults.Ok(await driver.ReadLogsAsync(instance, query, ct));
    }

    public static async Task<Ok<IReadOnlyList<string>>> TokenMetricNames(HttpContext http, Guid bindingId, InstanceReads reads, CancellationToken ct)
    {
        var (driver, instance) = await reads.ForReadTokenAsync<IMonitoringDriver>(bindingId, BearerToken(http), ct);
        return TypedResults.Ok(await driver.MetricNamesAsync(instance, ct));
    }

    public static async Task<Ok<IReadOnlyList<ScrapeTarget>>> TokenTargets(HttpContext http, Guid bindingId, InstanceReads reads, CancellationToken ct)
    {
        var (driver, instance) = await reads.ForReadTokenAsync<IMonitoringDriver>(bindingId, BearerToken(http), ct);
        return TypedResults.Ok(await driver.TargetsAsync(instance, ct));
    }

    public static async Task<Ok<IReadOnlyList<MetricSeries>>> TokenQuery(
        HttpContext http, Guid bindingId, string metric, DateTimeOffset? start, DateTimeOffset? end, int? step, bool? rate,
        InstanceReads reads, TimeProvider clock, CancellationToken ct)
    {
        var query = InstanceReads.ValidMetricQuery(metric, start, end, step, rate ?? false, clock.GetUtcNow());
        var (driver, instance) = await reads.ForReadTokenAsync<IMonitoringDriver>(bindingId, BearerToken(http), ct);
        return TypedResults.Ok(await driver.QueryRangeAsync(instance, query, ct));
    }

    private static string? BearerToken(HttpContext http)
    {
        var header = http.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }
}
