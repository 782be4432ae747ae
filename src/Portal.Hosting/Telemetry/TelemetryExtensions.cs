using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Portal.Application.Telemetry;
using Portal.Hosting.Health;

namespace Portal.Hosting.Telemetry;

/// <summary>
/// OpenTelemetry traces and metrics of a portal host: HTTP server and client (the drivers' backend APIs, webhooks), EF Core
/// (the portal's database), Hangfire job runs, the .NET runtime and the portal's own meter. Exported to Prometheus at
/// <c>/metrics</c> when <c>Metrics:ScrapeToken</c> is set, and over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or
/// <c>Telemetry:OtlpEndpoint</c> is set.
/// </summary>
public static class TelemetryExtensions
{
    public const string MetricsPath = "/metrics";

    public static IHostApplicationBuilder AddPortalTelemetry(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.Services.AddSingleton<PortalGauges>();
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(
                configuration["Telemetry:ServiceName"] is { Length: > 0 } name ? name : builder.Environment.ApplicationName,
                serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}"));

        // Always on, exported or not: the spans give log lines their trace and span ids (Logging:Console:FormatterOptions:IncludeScopes).
        otel.WithTracing(tracing => tracing
            .AddSource(JobTelemetryFilter.ActivitySourceName)
            .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsProbe(context.Request.Path))
            .AddHttpClientInstrumentation()
            // EF Core's spans carry the SQL text with literals removed; parameter values only if
            // OTEL_DOTNET_EXPERIMENTAL_EFCORE_ENABLE_TRACE_DB_QUERY_PARAMETERS is set, which must stay unset. The drivers'
            // own Npgsql connections to backends are not traced (their SQL holds password verifiers).
            .AddEntityFrameworkCoreInstrumentation());

        // Always collected: the scrape endpoint decides per request whether it answers (a test host's settings arrive
        // after this method has run), and the collection costs little until something reads it.
        otel.WithMetrics(metrics => metrics
            .AddMeter(PortalMetrics.MeterName)
            .AddInstrumentation(sp => sp.GetRequiredService<PortalGauges>())
            .AddAspNetCoreInstrumentation()
            .AddHttpClientInstrumentation()
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter());

        if (configuration["Telemetry:OtlpEndpoint"] is { Length: > 0 } endpoint)
        {
            // Traces, metrics and logs to a collector.
            otel.UseOtlpExporter(
                string.Equals(configuration["Telemetry:OtlpProtocol"], "http/protobuf", StringComparison.OrdinalIgnoreCase)
                    ? OtlpExportProtocol.HttpProtobuf
                    : OtlpExportProtocol.Grpc,
                new Uri(endpoint));
        }
        else if (configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is { Length: > 0 })
        {
            // The standard variables: OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL, _HEADERS.
            otel.UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>
    /// The Prometheus scrape endpoint, only with <c>Authorization: Bearer &lt;Metrics:ScrapeToken&gt;</c> (401 otherwise);
    /// 404 when no token is set.
    /// </summary>
    public static IEndpointRouteBuilder MapPortalMetrics(this IEndpointRouteBuilder endpoints)
    {
        var configuration = endpoints.ServiceProvider.GetRequiredService<IConfiguration>();
        endpoints.MapPrometheusScrapingEndpoint(MetricsPath, meterProvider: null, configureBranchedPipeline: pipeline =>
                pipeline.Use(async (context, next) =>
                {
                    if (ScrapeToken(configuration) is not { } token)
                    {
                        await Results.Problem(statusCode: StatusCodes.Status404NotFound,
                            detail: "The metrics endpoint is off: set Metrics:ScrapeToken to turn it on.").ExecuteAsync(context);
                        return;
                    }

                    if (HasToken(context.Request, token))
                    {
                        await next(context);
                        return;
                    }

                    context.Response.Headers.WWWAuthenticate = "Bearer";
                    await Results.Problem(statusCode: StatusCodes.Status401Unauthorized,
                        detail: "The metrics need Authorization: Bearer with the scrape token (Metrics:ScrapeToken).").ExecuteAsync(context);
                }),
                optionsName: null)
            .AllowAnonymous();
        return endpoints;
    }

    /// <summary>The health endpoints and the metrics endpoint: what a host serves to its operators.</summary>
    public static IEndpointRouteBuilder MapPortalHealthAndTelemetry(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPortalHealthChecks().MapPortalMetrics();

    /// <summary>The health checks and telemetry.</summary>
    public static IHostApplicationBuilder AddPortalHealthAndTelemetry(this IHostApplicationBuilder builder) =>
        builder.AddPortalHealthChecks().AddPortalTelemetry();

    private static bool HasToken(HttpRequest request, string token)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // Compared as hashes, in constant time: the answer's timing says nothing about the token.
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }

    private static string? ScrapeToken(IConfiguration configuration) =>
        configuration["Metrics:ScrapeToken"] is { Length: > 0 } token ? token : null;

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments("/healthz", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments(MetricsPath, StringComparison.OrdinalIgnoreCase);
}
