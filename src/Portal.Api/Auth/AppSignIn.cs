using System.Collections.Immutable;
using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Portal.Data;
using Portal.Provisioning.Oidc;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Portal.Api.Auth;

/// <summary>
/// Tokens for teams' apps (clients of oidc instances): client credentials for service-to-service calls,
/// and authorization code + PKCE to sign people in with their portal account. Their audience is the
/// instance's scope; they never carry the portal API scope.
/// </summary>
internal static class AppSignIn
{
    /// <summary>Client credentials of an app client: a token for the scopes it asked for (all it may have when none).</summary>
    public static async Task<IResult> IssueAppTokenAsync(
        OpenIddictRequest request, IOpenIddictApplicationManager applications, IOpenIddictScopeManager scopes)
    {
        var application = request.ClientId is { } id ? await applications.FindByClientIdAsync(id) : null;
        if (application is null || !request.ClientId!.StartsWith(OidcNames.ClientPrefix, StringComparison.Ordinal))
        {
            return AuthExtensions.Refuse(Errors.InvalidClient, "The client is not registered with the portal.");
        }

        // OpenIddict has checked that the client may have every scope it asked for.
        var granted = request.GetScopes();
        if (granted.IsEmpty)
        {
            granted = (await applications.GetPermissionsAsync(application))
                .Where(p => p.StartsWith(Permissions.Prefixes.Scope, StringComparison.Ordinal))
                .Select(p => p[Permissions.Prefixes.Scope.Length..])
                .Where(s => s.StartsWith("pi_", StringComparison.Ordinal))
                .ToImmutableArray();
        }

        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, request.ClientId);
        identity.SetClaim(Claims.Name, await applications.GetDisplayNameAsync(application));
        identity.SetScopes(granted);
        identity.SetResources(await ResourcesAsync(scopes, granted));
        identity.SetDestinations(_ => [Destinations.AccessToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>
    /// The authorization endpoint: people sign in with their portal account (the login page comes back
    /// here), then the app gets a code. Consent is implicit: these are the company's own apps.
    /// </summary>
    public static async Task<IResult> AuthorizeAsync(HttpContext http, UserManager<PortalUser> users, IOpenIddictScopeManager scopes)
    {
        var request = http.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("The OpenID Connect request cannot be retrieved.");
        var cookie = await http.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        var user = cookie.Succeeded ? await users.GetUserAsync(cookie.Principal) : null;
        if (user is null)
        {
            var parameters = http.Request.HasFormContentType
                ? http.Request.Form.Select(p => KeyValuePair.Create(p.Key, p.Value))
                : http.Request.Query.Select(p => KeyValuePair.Create(p.Key, p.Value));
            return Results.Challenge(
                new AuthenticationProperties { RedirectUri = http.Request.PathBase + http.Request.Path + QueryString.Create(parameters) },
                [IdentityConstants.ApplicationScheme]);
        }

        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, user.Id.ToString());
        identity.SetClaim(Claims.Name, string.IsNullOrEmpty(user.DisplayName) ? user.UserName : user.DisplayName);
        identity.SetClaim(Claims.PreferredUsername, user.UserName);
        identity.SetClaim(Claims.Email, user.Email);
        var granted = request.GetScopes();
        identity.SetScopes(granted);
        identity.SetResources(await ResourcesAsync(scopes, granted));
        identity.SetDestinations(claim => claim.Type switch
        {
            Claims.Name or Claims.PreferredUsername when granted.Contains(Scopes.Profile) => [Destinations.AccessToken, Destinations.IdentityToken],
            Claims.Email when granted.Contains(Scopes.Email) => [Destinations.AccessToken, Destinations.IdentityToken],
            Claims.Subject => [Destinations.AccessToken, Destinations.IdentityToken],
            _ => [Destinations.AccessToken],
        });
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>Redeems a code: the identity it was issued for, if that person still has an account.</summary>
    public static async Task<IResult> RedeemCodeAsync(HttpContext http, UserManager<PortalUser> users)
    {
        var result = await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        var subject = result.Principal?.GetClaim(Claims.Subject);
        if (result.Principal is null || subject is null || await users.FindByIdAsync(subject) is null)
        {
            return AuthExtensions.Refuse(Errors.InvalidGrant, "The account the code was issued for no longer exists.");
        }

        return Results.SignIn(result.Principal, properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    private static async Task<List<string>> ResourcesAsync(IOpenIddictScopeManager scopes, ImmutableArray<string> granted)
    {
        var resources = new List<string>();
        await foreach (var resource in scopes.ListResourcesAsync(granted))
        {
            resources.Add(resource);
        }

        return resources;
    }
}
