using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Teams;

namespace Portal.Application.Teams;

public sealed record CreateServiceAccount(string Name, string Role);

/// <summary>
/// Creates a team service account: a user that is a member of the team, and an OIDC confidential
/// client that gets tokens for it with the client credentials grant. Owners only.
/// </summary>
public sealed class CreateServiceAccountHandler(
    IDbContextFactory<PortalDbContext> dbFactory, IOpenIddictApplicationManager applications, TimeProvider clock)
{
    public async Task<ServiceAccountCreated> HandleAsync(Actor actor, Guid teamId, CreateServiceAccount request, CancellationToken ct = default)
    {
        var name = request.Name?.Trim() ?? "";
        new Validator()
            .Input(request)
            .Require(name.Length is >= 2 and <= 60, "name", "Give the service account a name of 2 to 60 characters.")
            .Require(TeamRoles.TryParse(request.Role, out var role), "role", "The role must be owner, developer or viewer.")
            .ThrowIfInvalid();

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
