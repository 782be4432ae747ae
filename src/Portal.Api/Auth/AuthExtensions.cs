using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
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
        // Sign-out must end the session on the server, not just ask the browser to drop the cookie. Sign-out changes the
        // account's security stamp and every request checks the cookie's stamp against the database (interval zero), so
        // a copied cookie is refused from then on. Chosen over a server-side ticket store because it needs no new table
        // and Identity already keeps the stamp: a password or role change takes effect at once too. The price: signing
        // out ends that person's sessions in every browser, and each cookie request reads the account (one indexed query).
        services.Configure<SecurityStampValidatorOptions>(o => o.ValidationInterval = TimeSpan.Zero);
        services.AddPortalSignInLimits();
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
                // Refused token requests (a wrong client secret is refused by OpenIddict before our endpoint runs) go to
                // the audit trail; the rate limit in front bounds how many rows a guesser can write.
                o.AddEventHandler<OpenIddictServerEvents.ApplyTokenResponseContext>(b => b.UseInlineHandler(AuditRefusedTokenRequestAsync));
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
        // OIDC over HTTPS only and Secure cookies, outside Development (checked at start-up).
        services.AddPortalHttpsRequirements();

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
        app.MapPost("/connect/token", IssueTokenAsync).RequireRateLimiting(SignInLimits.TokenPolicy).ExcludeFromDescription();
        app.MapMethods("/connect/authorize", [HttpMethods.Get, HttpMethods.Post], AppSignIn.AuthorizeAsync).ExcludeFromDescription();
        app.MapPost("/account/logout", SignOutAsync).RequireAuthorization().ExcludeFromDescription();
        return app;
    }

    /// <summary>
    /// Cookie sign-out, from the form in the app bar. It needs the form's antiforgery token (another site must not sign
    /// people out), and it changes the account's security stamp so the cookie is refused from now on, wherever copied.
    /// </summary>
    private static async Task<IResult> SignOutAsync(
        HttpContext http, IAntiforgery antiforgery, SignInManager<PortalUser> signIn, UserManager<PortalUser> users,
        Application.Audit.AuditWriter audit)
    {
        // Minimal APIs check the token only for form-bound parameters; this endpoint binds none, so it checks here.
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                detail: "The sign-out form's antiforgery token is missing or wrong; sign out from the portal's own page.");
        }

        if (await users.GetUserAsync(http.User) is { } user)
        {
            await users.UpdateSecurityStampAsync(user);
            await audit.WriteSignOutAsync(user.UserName!, user.Id, http.Connection.RemoteIpAddress?.ToString());
        }

        await signIn.SignOutAsync();
        return Results.LocalRedirect("/account/login");
    }

    private static async ValueTask AuditRefusedTokenRequestAsync(OpenIddictServerEvents.ApplyTokenResponseContext context)
    {
        if (string.IsNullOrEmpty(context.Error) || context.Transaction.GetHttpRequest() is not { } request)
        {
            return;
        }

        var audit = request.HttpContext.RequestServices.GetRequiredService<Application.Audit.AuditWriter>();
        await audit.WriteSignInAsync(context.Request?.ClientId ?? "(no client id)", userId: null,
            Portal.Domain.Audit.AuditActorKinds.ServiceAccount, request.HttpContext.Connection.RemoteIpAddress?.ToString(), succeeded: false,
            $"token request refused: {context.Error}", request.HttpContext.RequestAborted);
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
