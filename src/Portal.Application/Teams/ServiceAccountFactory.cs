using System.Security.Cryptography;
using OpenIddict.Abstractions;
using Portal.Application.Access;
using Portal.Data;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Portal.Application.Teams;

/// <summary>
/// Creates the user and the OIDC confidential client of a service account, and leaves no client behind
/// when saving the user fails.
/// </summary>
internal static class ServiceAccountFactory
{
    public static async Task<ServiceAccountCreated> CreateAsync(
        IOpenIddictApplicationManager applications, string name, string scope, string role, DateTimeOffset now,
        Func<PortalUser, Task> save, CancellationToken ct)
    {
        var user = new PortalUser { DisplayName = name, CreatedAt = now };
        user.ClientId = $"sa-{scope}-{user.Id.ToString("N")[^12..]}";
        user.UserName = user.ClientId;
        user.NormalizedUserName = user.ClientId.ToUpperInvariant();
        user.SecurityStamp = Guid.NewGuid().ToString("N");
        var secret = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 40);

        await applications.CreateAsync(new OpenIddictApplicationDescriptor
        {
            ClientId = user.ClientId,
            ClientSecret = secret,
            ClientType = ClientTypes.Confidential,
            DisplayName = $"{name} ({scope})",
            Permissions =
            {
                Permissions.Endpoints.Token,
                Permissions.GrantTypes.ClientCredentials,
                Permissions.Prefixes.Scope + PortalScopes.Api,
            },
        }, ct);

        try
        {
            await save(user);
        }
        catch
        {
            if (await applications.FindByClientIdAsync(user.ClientId, CancellationToken.None) is { } app)
            {
                await applications.DeleteAsync(app, CancellationToken.None);
            }

            throw;
        }

        return new ServiceAccountCreated(user.Id, name, role, user.ClientId, secret, "/connect/token");
    }
}
