using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using Microsoft.AspNetCore;
using OpenIddict.Validation.AspNetCore;
using Portal.Application.Access;
using Portal.Data;
using Portal.Domain.Access;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Portal.Api.Auth;

public static class AuthExtensions
{
    /// <summary>API callers: a bearer token from our OIDC server with the portal API scope.</summary>
    public const string ApiPolicy = "api";

    /// <summary>People with the platform-admin role, signed in with the cookie.</summary>
    public const string PlatformAdminPolicy = "platform-admin";

    /// <summary>
    /// Local accounts with ASP.NET Core Identity (cookie sign-in for the pages) and OpenIddict as the OIDC
    /// server that issues API tokens to team service accounts (client credentials).
    /// </summary>
    public static IHostApplicationBuilder AddPortalIdentity(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddAuthentication(o =>
            {
                o.DefaultScheme = IdentityConstants.ApplicationScheme;
                o.DefaultSignInScheme = IdentityConstants.ExternalScheme;
            })
            .AddIdentityCookies();
        services.ConfigureApplicationCookie(o =>
        {
            o.LoginPath = "/account/login";
            o.LogoutPath = "/account/logout";
            o.AccessDeniedPath = "/account/denied";
            o.Cookie.Name = "portal.auth";
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.SlidingExpiration = true;
            o.ExpireTimeSpan = TimeSpan.FromHours(8);
        });
        services.AddPortalAccounts()
            .AddSignInManager()
            .AddDefaultTokenProviders();
        // Identity's stores take the scoped context that AddDbContextFactory also registers.

        // OpenIddict's core (stores in PortalDbContext) is registered by AddPortalApplication, for workers too.
        services.AddOpenIddict()
            .AddServer(o =>
            {
                o.SetTokenEndpointUris("connect/token");
                o.SetAuthorizationEndpointUris("connect/authorize");
                o.AllowClientCredentialsFlow();
                // Interactive sign-in to teams' apps (oidc instances with redirect URIs); PKCE always.
                o.AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();
                // Apps' own scopes (oidc instances) are registered in the scope store by the oidc driver.
                o.RegisterScopes(PortalScopes.Api, Scopes.OpenId, Scopes.Profile, Scopes.Email);
                // Access tokens are signed JWTs that resource servers can validate from our JWKS;
                // they carry no secrets, so encrypting them would only hide them from their audience.
                o.DisableAccessTokenEncryption();
                o.SetAccessTokenLifetime(TimeSpan.FromHours(1));
                // The token request is answered by our own endpoint below, which decides the claims.
                o.UseAspNetCore().EnableTokenEndpointPassthrough().EnableAuthorizationEndpointPassthrough();
            })
            .AddValidation(o =>
            {
                o.UseLocalServer();
                o.UseAspNetCore();
                // Check each token against its stored entry, so deleting a service account (which deletes
                // its client and tokens) revokes its tokens at once rather than when they expire.
                o.EnableTokenEntryValidation();
            });
        // Keys come from the database (created on first start), not from ephemeral development keys.
        services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, ServerKeys>();
        // A fixed issuer (Auth:Issuer, the public base URL) so apps validating tokens see one `iss`
        // whatever host name a request came in by; unset, it follows the request.
        services.AddOptions<OpenIddictServerOptions>().Configure<IConfiguration>((o, c) =>
        {
            if (c["Auth:Issuer"] is { Length: > 0 } issuer)
            {
                o.Issuer = new Uri(issuer, UriKind.Absolute);
            }
        });
        // Plain HTTP on loopback is the development and test setup; production sets Auth:RequireHttps
        // (or terminates TLS in front and forwards the scheme).
        services.AddOptions<OpenIddictServerAspNetCoreOptions>()
            .Configure<IConfiguration>((o, c) => o.DisableTransportSecurityRequirement = !c.GetValue("Auth:RequireHttps", false));

        services.AddAuthorizationBuilder()
            .AddPolicy(ApiPolicy, p => p
                .AddAuthenticationSchemes(OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme)
                .RequireAuthenticatedUser()
                .RequireAssertion(c => c.User.HasScope(PortalScopes.Api)))
            .AddPolicy(PlatformAdminPolicy, p => p.RequireAuthenticatedUser().RequireRole(PlatformRoles.Admin));
        return builder;
    }

    /// <summary>The OIDC token endpoint (client credentials) and cookie sign-out.</summary>
    public static IEndpointRouteBuilder MapPortalAuth(this IEndpointRouteBuilder app)
    {
        app.MapPost("/connect/token", IssueTokenAsync).ExcludeFromDescription();
        app.MapMethods("/connect/authorize", [HttpMethods.Get, HttpMethods.Post], AppSignIn.AuthorizeAsync).ExcludeFromDescription();
        app.MapPost("/account/logout", async (SignInManager<PortalUser> signIn) =>
        {
            await signIn.SignOutAsync();
            return Results.LocalRedirect("/account/login");
        }).RequireAuthorization().ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> IssueTokenAsync(
        HttpContext http, UserManager<PortalUser> users, Application.Audit.AuditWriter audit,
        IOpenIddictApplicationManager applications, IOpenIddictScopeManager scopes)
    {
        var request = http.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("The OpenID Connect request cannot be retrieved.");
        if (request.IsAuthorizationCodeGrantType())
        {
            return await AppSignIn.RedeemCodeAsync(http, users);
        }

        if (!request.IsClientCredentialsGrantType())
        {
            return Refuse(Errors.UnsupportedGrantType, "Only the client credentials and authorization code grants are supported.");
        }

        // OpenIddict has already authenticated the client; find the service account it belongs to.
        var user = await users.Users.FirstOrDefaultAsync(u => u.ClientId == request.ClientId);
        if (user is null)
        {
            // Not a service account: an app client of an oidc instance, which never gets the portal API scope.
            return await AppSignIn.IssueAppTokenAsync(request, applications, scopes);
        }

        await audit.WriteSignInAsync(user.UserName!, user.Id, Portal.Domain.Audit.AuditActorKinds.ServiceAccount,
            http.Connection.RemoteIpAddress?.ToString(), succeeded: true, "token issued (client credentials)");
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, user.Id.ToString());
        identity.SetClaim(Claims.Name, user.UserName);
        identity.SetClaims(Claims.Role, [.. await users.GetRolesAsync(user)]);
        identity.SetClaim(Application.Access.Actor.KindClaim, Portal.Domain.Audit.AuditActorKinds.ServiceAccount);
        identity.SetScopes(request.GetScopes().Union([PortalScopes.Api]));
        identity.SetDestinations(_ => [Destinations.AccessToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    internal static IResult Refuse(string error, string description) => Results.Forbid(
        new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }),
        [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);

    /// <summary>The actor behind the current request, for handlers.</summary>
    public static Actor Actor(this HttpContext http) =>
        Application.Access.Actor.From(http.User, http.Connection.RemoteIpAddress?.ToString());
}
