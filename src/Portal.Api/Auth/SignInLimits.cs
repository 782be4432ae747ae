using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Portal.Api.Auth;

/// <summary>Settings of <see cref="SignInLimits"/>, from the <c>Auth:RateLimits</c> section.</summary>
public sealed class SignInLimitOptions
{
    /// <summary>Password sign-ins (posts of the sign-in form) one client address may make per minute.</summary>
    public int SignInsPerMinute { get; set; } = 10;

    /// <summary>Requests to /connect/token one client address may make per minute (each service account needs one an hour).</summary>
    public int TokenRequestsPerMinute { get; set; } = 30;
}

/// <summary>
/// Slows password and client-secret guessing by client address rather than by account: limiting by account would let
/// anyone lock anyone out (the per-account lockout in <c>AccountRules</c> is only a slow backstop). A client over the
/// limit gets 429 with Retry-After. The address is the connection's own; behind a proxy, configure forwarded headers
/// for that proxy only, or every client shares the proxy's limit.
/// </summary>
public static class SignInLimits
{
    /// <summary>The sign-in page's policy: posts of the form count, showing the page does not.</summary>
    public const string SignInPolicy = "sign-in";

    /// <summary>The token endpoint's policy.</summary>
    public const string TokenPolicy = "token";

    public static IServiceCollection AddPortalSignInLimits(this IServiceCollection services)
    {
        services.AddOptions<SignInLimitOptions>().BindConfiguration("Auth:RateLimits");
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(SignInPolicy, http => HttpMethods.IsPost(http.Request.Method)
                ? PerMinute(http, "sign-in", http.RequestServices.GetRequiredService<IOptions<SignInLimitOptions>>().Value.SignInsPerMinute)
                : RateLimitPartition.GetNoLimiter("show"));
            o.AddPolicy(TokenPolicy, http =>
                PerMinute(http, "token", http.RequestServices.GetRequiredService<IOptions<SignInLimitOptions>>().Value.TokenRequestsPerMinute));
            o.OnRejected = RejectAsync;
        });
        return services;
    }

    private static RateLimitPartition<string> PerMinute(HttpContext http, string purpose, int permits) =>
        RateLimitPartition.GetFixedWindowLimiter(
            $"{purpose}:{ClientAddress(http)}",
            _ => new FixedWindowRateLimiterOptions { PermitLimit = Math.Max(1, permits), Window = TimeSpan.FromMinutes(1), QueueLimit = 0 });

    private static string ClientAddress(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } address
            ? (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString()
            : IPAddress.None.ToString();

    private static async ValueTask RejectAsync(OnRejectedContext context, CancellationToken ct)
    {
        var http = context.HttpContext;
        var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : 60;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        // Logged, not audited: the limit is what keeps a flood from writing an audit row per request.
        http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SignInLimits))
            .LogWarning("Too many requests to {Path} from {Address}; refused for {Seconds} s", http.Request.Path, ClientAddress(http), seconds);
        if (http.Request.Path.StartsWithSegments("/account/login"))
        {
            // The sign-in form was posted: a page a browser shows, not an API error.
            http.Response.ContentType = "text/html; charset=utf-8";
            await http.Response.WriteAsync(ThrottledPage(seconds), ct);
            return;
        }

        await Results.Problem(
                statusCode: StatusCodes.Status429TooManyRequests,
                title: "Too many requests",
                detail: $"Too many token requests from your address; try again in {seconds} s.")
            .ExecuteAsync(http);
    }

    private static string ThrottledPage(int seconds) => $$"""
        <!DOCTYPE html>
        <html lang="en">
        <head><meta charset="utf-8" /><title>Too many sign-in attempts · Portal</title><link rel="stylesheet" href="/app.css" /></head>
        <body class="throttled">
        <main>
        <h1>Too many sign-in attempts</h1>
        <p data-testid="login-throttled">Too many sign-in attempts from your address. Try again in {{seconds}} seconds.</p>
        <p><a href="/account/login">Back to sign in</a></p>
        </main>
        </body>
        </html>
        """;
}
