using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Audit;
using Portal.Application.Instances;

namespace Portal.Api.V1;

public static class AuditApi
{
    public static RouteGroupBuilder MapAuditApi(this RouteGroupBuilder api)
    {
        var audit = api.MapGroup("/audit").WithTags("Audit");
        audit.MapGet("/", ListEvents)
            .WithSummary("The audit trail, newest first (platform admins: all; team owners: their teams)");
        audit.MapGet("/export", Export).WithSummary("The same events as CSV, oldest first").Produces<string>(contentType: "text/csv");
        audit.MapPost("/verify", Verify).WithSummary("Check the hash chain; reports the first broken link (platform admins)");
        return api;
    }

    /// <summary>The audit page's CSV download, with the page's cookie (the API's export takes a bearer token).</summary>
    public static IEndpointRouteBuilder MapAuditDownload(this IEndpointRouteBuilder app)
    {
        app.MapGet("/audit/export.csv", Export).RequireAuthorization().WithInputRules().ExcludeFromDescription();
        return app;
    }

    public static async Task<Ok<Page<AuditEventView>>> ListEvents(HttpContext http, [AsParameters] AuditFilter filter, ListAuditEventsHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), filter.ToQuery(), ct));

    public static async Task<FileContentHttpResult> Export(HttpContext http, [AsParameters] AuditFilter filter, ExportAuditCsvHandler handler, CancellationToken ct)
    {
        var csv = await handler.HandleAsync(http.Actor(), filter.ToQuery(), ct);
        // Who did what from where: not for a browser or proxy cache (the host sets this on every answer; said here too).
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.File(System.Text.Encoding.UTF8.GetBytes(csv), "text/csv", "audit.csv");
    }

    public static async Task<Ok<AuditChainReport>> Verify(HttpContext http, VerifyAuditChainHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), ct));
}

/// <summary>Query-string filters of the audit endpoints.</summary>
public sealed record AuditFilter(
    Guid? TeamId, string? User, string? ObjectType, string? ObjectId, string? Action, DateTimeOffset? From, DateTimeOffset? To,
    int? Page, int? PageSize)
{
    public AuditQuery ToQuery() => new(TeamId, User, ObjectType, ObjectId, Action, From, To, Page ?? 0, PageSize ?? 50);
}
