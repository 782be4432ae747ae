using System.Security.Cryptography;

namespace Portal.Web.Security;

/// <summary>
/// Security headers on every response: pages, API answers, Problem Details errors and downloads alike.
/// </summary>
public static class SecurityHeaders
{
    /// <summary>The key of the per-request nonce in <see cref="HttpContext.Items"/>, for the page's one inline script (the import map).</summary>
    public const string NonceKey = "csp-nonce";

    /// <summary>
    /// The portal's own pages. Scripts only from the portal, plus the import map Blazor writes inline (by nonce). Styles
    /// allow inline: MudBlazor writes its theme as a &lt;style&gt; element and sizes and places components with style
    /// attributes. Blazor Server talks over a WebSocket to the same origin ('self' covers ws: and wss: there). No
    /// 'unsafe-eval': neither Blazor Server nor MudBlazor evaluates strings. form-action is left open on purpose: the
    /// sign-in form's answer redirects to a team app's registered redirect URI when the sign-in was for that app.
    /// </summary>
    private static string PagePolicy(string nonce) =>
        $"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

    /// <summary>
    /// The API reference (Scalar) and the jobs dashboard (Hangfire, platform admins only) start themselves with inline
    /// scripts we do not write; they keep 'self' for everything else.
    /// </summary>
    private const string ThirdPartyPagePolicy =
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

    public static IApplicationBuilder UsePortalSecurityHeaders(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        http.Items[NonceKey] = nonce;
        var policy = http.Request.Path.StartsWithSegments("/scalar") || http.Request.Path.StartsWithSegments("/ops/jobs")
            ? ThirdPartyPagePolicy
            : PagePolicy(nonce);
        // Set as the answer starts, so the exception handler (which clears the headers of a failed request) keeps them too.
        http.Response.OnStarting(() =>
        {
            var headers = http.Response.Headers;
            headers.ContentSecurityPolicy = policy;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            // Nothing the portal answers may be kept by a browser or proxy cache: pages show credentials, the API hands
            // them out, downloads and exports are them. Static assets set their own caching and keep it.
            if (!headers.ContainsKey("Cache-Control"))
            {
                headers.CacheControl = "no-store";
            }

            return Task.CompletedTask;
        });
        await next(http);
    });
}
