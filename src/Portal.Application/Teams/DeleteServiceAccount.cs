using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Teams;

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
