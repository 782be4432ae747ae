using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Bindings;

namespace Portal.Api.V1;

/// <summary>A binding's credentials as JSON, .env, VCAP_SERVICES, a Kubernetes Secret or a binding directory (.tar.gz).</summary>
public static class BindingFormatsApi
{
    /// <summary>Credentials must not stay in a browser or proxy cache (the host sets this on every answer; said here too).</summary>
    private const string NoStore = "no-store";

    public static RouteGroupBuilder MapBindingFormatsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/bindings/{bindingId:guid}/credentials", ExportAsync).WithTags("Bindings")
            .WithSummary("The binding's credentials in a format: json (default), env, vcap, k8s or tar (audited)")
            .Produces(StatusCodes.Status200OK, contentType: "application/json");
        return api;
    }

    /// <summary>The same for people signed in to the pages (the download buttons), with their cookie.</summary>
    public static IEndpointRouteBuilder MapBindingDownloads(this IEndpointRouteBuilder app)
    {
        app.MapGet("/bindings/{bindingId:guid}/credentials/download", async (
                HttpContext http, Guid bindingId, string? format, ExportCredentialsHandler handler, CancellationToken ct) =>
            {
                var rendered = await handler.HandleAsync(http.Actor(), bindingId, format, ct);
                http.Response.Headers.CacheControl = NoStore;
                return Results.File(rendered.Content, rendered.ContentType, rendered.FileName);
            })
            .RequireAuthorization().WithInputRules().ExcludeFromDescription();
        return app;
    }

    public static async Task<IResult> ExportAsync(
        HttpContext http, Guid bindingId, string? format, ExportCredentialsHandler handler, CancellationToken ct)
    {
        var rendered = await handler.HandleAsync(http.Actor(), bindingId, format, ct);
        http.Response.Headers.CacheControl = NoStore;
        // Text formats inline (curl, scripts); the archive as a file.
        return rendered.Format == "tar"
            ? Results.File(rendered.Content, rendered.ContentType, rendered.FileName)
            : Results.Text(rendered.Text, rendered.ContentType + "; charset=utf-8");
    }
}
