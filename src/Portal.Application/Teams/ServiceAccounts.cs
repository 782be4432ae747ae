using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Teams;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Portal.Application.Teams;

public sealed record CreateServiceAccount(string Name, string Role);

/// <summary>The client secret is shown once, here, and stored only as a hash by OpenIddict.</summary>
public sealed record ServiceAccountCreated(Guid UserId, string Name, string Role, string ClientId, string ClientSecret, string TokenEndpoint);

/// <summary>
/// Creates a team service account: a user that is a member of the team, and an OIDC confidential
/// client that gets tokens for it with the client credentials grant. Owners only.
/// </summary>
public sealed class CreateServiceAccountHandler(
    IDbContextFactory<PortalDbContext> dbFactory, IOpenIddictApplicationManager applications, TimeProvider clock)
{
    public const string ApiScope = "portal-api";

    public async Task<ServiceAccountCreated> HandleAsync(Actor actor, Guid teamId, CreateServiceAccount request, CancellationToken ct = default)
    {
        var name = request.Name?.Trim() ?? "";
        new Validator()
            .Require(name.Length is >= 2 and <= 60, "name", "Give the service account a name of 2 to 60 characters.")
            .Require(TeamRoles.TryParse(request.Role, out _), "role", "The role must be owner, developer or viewer.")
            .ThrowIfInvalid();
        TeamRoles.TryParse(request.Role, out var role);

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireAsync(actor, teamId, TeamPermission.ManageTeam, "Team", ct);
        var slug = await db.Teams.Where(t => t.Id == teamId).Select(t => t.Slug).FirstAsync(ct);
        var now = clock.GetUtcNow();
        return await ServiceAccountFactory.CreateAsync(applications, name, slug, role.ToWire(), now, user =>
        {
            db.Users.Add(user);
            db.TeamMembers.Add(new TeamMember { TeamId = teamId, UserId = user.Id, Role = role, AddedAt = now });
            db.Audit(actor, now, "team.service-account-created", "account", user.Id, teamId, $"{user.ClientId} as {role.ToWire()}");
            return db.SaveChangesAsync(ct);
        }, ct);
    }
}

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
                Permissions.Prefixes.Scope + CreateServiceAccountHandler.ApiScope,
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

/// <summary>Deletes a team's service account and its OIDC client; its tokens stop working. Owners only.</summary>
public sealed class DeleteServiceAccountHandler(
    IDbContextFactory<PortalDbContext> dbFactory, IOpenIddictApplicationManager applications, TimeProvider clock)
{
    public async Task HandleAsync(Actor actor, Guid teamId, Guid userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireAsync(actor, teamId, TeamPermission.ManageTeam, "Team", ct);
        var user = await db.Users
            .Where(u => u.Id == userId && u.ClientId != null && db.TeamMembers.Any(m => m.TeamId == teamId && m.UserId == u.Id))
            .FirstOrDefaultAsync(ct) ?? throw new NotFoundException("Service account");
        if (await applications.FindByClientIdAsync(user.ClientId!, ct) is { } app)
        {
            await applications.DeleteAsync(app, ct);
        }

        db.Users.Remove(user);
        db.Audit(actor, clock.GetUtcNow(), "team.service-account-deleted", "account", user.Id, teamId, user.ClientId);
        await db.SaveChangesAsync(ct);
    }
}
