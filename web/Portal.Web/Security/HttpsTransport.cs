using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Portal.Web.Security;

/// <summary>
/// The front of the pipeline: who the client is and whether it came over HTTPS. Forwarded headers are believed from the
/// proxies named in <c>ForwardedHeaders:KnownProxies</c> (IP addresses) and <c>ForwardedHeaders:KnownNetworks</c> (CIDR
/// ranges) and from nobody else; with neither set, X-Forwarded-* are ignored. Then plain HTTP is redirected to the
/// server's HTTPS port and, outside Development, HSTS is sent.
/// </summary>
/// <remarks>
/// Behind a proxy that terminates TLS the web host listens on plain HTTP: the proxy's X-Forwarded-Proto makes each
/// request HTTPS again (so OpenIddict's transport check, Secure cookies and the issuer hold), and its X-Forwarded-For
/// gives the client's address to the sign-in rate limits and the audit trail.
/// </remarks>
public static class HttpsTransport
{
    public static WebApplicationBuilder AddPortalHttps(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ForwardedHeadersOptions>().Configure<IConfiguration>(TrustConfiguredProxies);
        return builder;
    }

    /// <summary>First in the pipeline, so everything after it sees the client's scheme and address.</summary>
    public static WebApplication UsePortalHttps(this WebApplication app)
    {
        var forwarded = app.Services.GetRequiredService<IOptions<ForwardedHeadersOptions>>().Value;
        // With no proxy listed, the middleware would believe every sender (it checks the lists only when they are not
        // empty), so it is left out.
        if (forwarded.KnownProxies.Count > 0 || forwarded.KnownIPNetworks.Count > 0)
        {
            app.UseForwardedHeaders();
        }

        // To the HTTPS port the server listens on (or HTTPS_PORT); a host that serves plain HTTP only (behind a proxy that
        // terminates TLS) has none and passes requests on.
        app.UseHttpsRedirection();
        if (!app.Environment.IsDevelopment())
        {
            // Strict-Transport-Security on answers over HTTPS (never on plain HTTP, where it would mean nothing).
            app.UseHsts();
        }

        // Secure on every cookie set from here on (Auth:CookieSecurePolicy, see Portal.Api.Auth.HttpsRequirements).
        app.UseCookiePolicy();
        return app;
    }

    private static void TrustConfiguredProxies(ForwardedHeadersOptions options, IConfiguration configuration)
    {
        options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
        // The defaults trust loopback; only what is configured is trusted here.
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        foreach (var (key, text) in Values(configuration.GetSection("ForwardedHeaders:KnownProxies")))
        {
            options.KnownProxies.Add(IPAddress.TryParse(text, out var address)
                ? address
                : throw new InvalidOperationException($"{key} is '{text}', not an IP address (e.g. 10.0.0.5)."));
        }

        foreach (var (key, text) in Values(configuration.GetSection("ForwardedHeaders:KnownNetworks")))
        {
            options.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(text, out var network)
                ? network
                : throw new InvalidOperationException($"{key} is '{text}', not a network in CIDR notation (e.g. 10.0.0.0/24)."));
        }
    }

    /// <summary>A list setting: indexed (<c>KnownProxies__0</c>, …) or one comma-separated value.</summary>
    private static IEnumerable<(string Key, string Text)> Values(IConfigurationSection list)
    {
        // A section with children may still carry an empty value of its own (e.g. from a test host's settings).
        IEnumerable<IConfigurationSection> entries = string.IsNullOrEmpty(list.Value) ? list.GetChildren() : [list];
        return entries.SelectMany(e => (e.Value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(text => (e.Path, text)));
    }
}
