using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenIddict.Server.AspNetCore;
using Portal.Data.Security;

namespace Portal.Api.Auth;

/// <summary>
/// What the sign-in side needs from the transport: OpenIddict refuses OIDC requests over plain HTTP
/// (<c>Auth:RequireHttps</c>) and every cookie is <c>Secure</c> (<c>Auth:CookieSecurePolicy</c>). Both default to the
/// safe value outside Development, and a host outside Development refuses to start when either is relaxed
/// (<see cref="ProductionChecks"/>). Behind a proxy that terminates TLS, requests arrive over plain HTTP: the forwarded
/// headers of a configured proxy (<c>ForwardedHeaders:KnownProxies</c>) make them HTTPS again.
/// </summary>
public static class HttpsRequirements
{
    /// <summary>What start-up says outside Development when OpenIddict's transport check is off.</summary>
    public const string PlainHttpTokensMessage =
        "Auth:RequireHttps is false, so the OIDC server would hand out tokens and take client secrets over plain HTTP. " +
        "Remove Auth:RequireHttps (true is the default outside Development) and serve HTTPS; behind a proxy that " +
        "terminates TLS, list it in ForwardedHeaders:KnownProxies so its X-Forwarded-Proto counts.";

    /// <summary>What start-up says outside Development when cookies could travel over plain HTTP.</summary>
    public static string InsecureCookiesMessage(CookieSecurePolicy policy) =>
        $"Auth:CookieSecurePolicy is {policy}, so the sign-in and antiforgery cookies could travel over plain HTTP. " +
        "Remove Auth:CookieSecurePolicy (Always is the default outside Development); SameAsRequest is for Development only.";

    public static IServiceCollection AddPortalHttpsRequirements(this IServiceCollection services)
    {
        // Plain HTTP on loopback is the development and test setup; everywhere else OpenIddict answers an OIDC request
        // over plain HTTP with an error.
        services.AddOptions<OpenIddictServerAspNetCoreOptions>()
            .Configure<IConfiguration, IHostEnvironment>((o, c, env) =>
                o.DisableTransportSecurityRequirement = !c.GetValue("Auth:RequireHttps", !env.IsDevelopment()));
        services.AddProductionCheck(sp =>
            sp.GetRequiredService<IOptions<OpenIddictServerAspNetCoreOptions>>().Value.DisableTransportSecurityRequirement
                ? PlainHttpTokensMessage
                : null);

        // Every cookie: Identity's (the sign-in cookie and the external and two-factor ones), antiforgery's, and any other
        // through the cookie policy middleware (UseCookiePolicy, in the web host's transport pipeline).
        services.AddSingleton<IPostConfigureOptions<CookieAuthenticationOptions>, SecureCookies>();
        services.AddSingleton<IPostConfigureOptions<AntiforgeryOptions>, SecureCookies>();
        services.AddSingleton<IPostConfigureOptions<CookiePolicyOptions>, SecureCookies>();
        services.AddSingleton<SecureCookiesPolicy>();
        services.AddProductionCheck(sp =>
        {
            // The effective options of each cookie, not just the setting.
            var cookies = sp.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>();
            var weakest = IdentityCookieSchemes.Select(scheme => cookies.Get(scheme).Cookie.SecurePolicy)
                .Append(sp.GetRequiredService<IOptions<AntiforgeryOptions>>().Value.Cookie.SecurePolicy)
                .Append(sp.GetRequiredService<IOptions<CookiePolicyOptions>>().Value.Secure)
                .FirstOrDefault(p => p != CookieSecurePolicy.Always, CookieSecurePolicy.Always);
            return weakest == CookieSecurePolicy.Always
                ? null
                : InsecureCookiesMessage(sp.GetRequiredService<SecureCookiesPolicy>().Policy);
        });
        return services;
    }

    private static readonly string[] IdentityCookieSchemes =
    [
        IdentityConstants.ApplicationScheme, IdentityConstants.ExternalScheme,
        IdentityConstants.TwoFactorUserIdScheme, IdentityConstants.TwoFactorRememberMeScheme,
    ];

    /// <summary><c>Auth:CookieSecurePolicy</c>, or its default for the environment.</summary>
    internal sealed class SecureCookiesPolicy(IConfiguration configuration, IHostEnvironment environment)
    {
        public CookieSecurePolicy Policy { get; } =
            configuration.GetValue("Auth:CookieSecurePolicy",
                environment.IsDevelopment() ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always);
    }

    private sealed class SecureCookies(SecureCookiesPolicy policy)
        : IPostConfigureOptions<CookieAuthenticationOptions>, IPostConfigureOptions<AntiforgeryOptions>, IPostConfigureOptions<CookiePolicyOptions>
    {
        public void PostConfigure(string? name, CookieAuthenticationOptions options) => options.Cookie.SecurePolicy = policy.Policy;

        public void PostConfigure(string? name, AntiforgeryOptions options) => options.Cookie.SecurePolicy = policy.Policy;

        public void PostConfigure(string? name, CookiePolicyOptions options) => options.Secure = policy.Policy;
    }
}
