using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Certificates;
using Portal.Application.Common;

namespace Portal.Api.V1;

/// <summary>The platform CA: its public certificate for anybody, its import for platform admins.</summary>
public static class CertificatesApi
{
    public const string PemContentType = "application/x-pem-file";

    public static RouteGroupBuilder MapCertificatesApi(this RouteGroupBuilder api)
    {
        var ca = api.MapGroup("/ca").WithTags("Platform CA");
        ca.MapGet("/", GetCa).AllowAnonymous().WithSummary("The platform CA: subject, expiry, SHA-256 fingerprint and certificate (PEM). No sign-in needed");
        ca.MapGet("/certificate", DownloadCa).AllowAnonymous()
            .WithSummary("The platform CA certificate as a PEM file, for apps and servers to trust. No sign-in needed")
            .Produces(StatusCodes.Status200OK, contentType: PemContentType);
        ca.MapPut("/", ImportCa).WithSummary("Replace the platform CA with the company's own (certificate and unencrypted key, PEM; platform admins)");
        return api;
    }

    /// <summary><c>/ca.crt</c> at the site root, the address people type into curl.</summary>
    public static IEndpointRouteBuilder MapCaDownload(this IEndpointRouteBuilder app)
    {
        app.MapGet("/ca.crt", DownloadCa).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    public static async Task<Ok<CaView>> GetCa(GetPlatformCaHandler handler, CancellationToken ct) => TypedResults.Ok(await handler.HandleAsync(ct));

    public static async Task<IResult> DownloadCa(GetPlatformCaHandler handler, CancellationToken ct)
    {
        var view = await handler.HandleAsync(ct);
        return Results.File(System.Text.Encoding.ASCII.GetBytes(view.CertificatePem), PemContentType, "portal-ca.crt");
    }

    public sealed record CaImport(
        [Text(InputRules.PemLength, MultiLine = true)] string? CertificatePem, [Text(InputRules.PemLength, MultiLine = true)] string? KeyPem);

    public static async Task<Ok<CaView>> ImportCa(HttpContext http, CaImport request, ImportPlatformCaHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), request.CertificatePem, request.KeyPem, ct));
}
