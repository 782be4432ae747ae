using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Teams;

/// <summary>
/// Deletes a team that has nothing left running: no live instance and no request waiting for approval. Its members
/// lose the membership, its service accounts and their OIDC clients are deleted, and its webhooks, quota and the
/// records of its deleted instances go with it; the audit trail keeps every event. Owners and platform admins.
/// </summary>
public sealed class DeleteTeamHandler(
    IDbContextFactory<PortalDbContext> dbFactory, IServiceScopeFactory scopes, TimeProvider clock)
{
    public async Task HandleAsync(Actor actor, Guid teamId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireAsync(actor, teamId, TeamPermission.ManageTeam, "Team", ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        // The team's row locked first: a request for the team waits for this and then finds the team gone.
        var team = await db.Teams.FromSql($"SELECT * FROM \"Teams\" WHERE \"Id\" = {teamId} FOR UPDATE").SingleOrDefaultAsync(ct)
            ?? throw new NotFoundException("Team");
        var live = await db.Instances.Live().Where(i => i.TeamId == teamId).OrderBy(i => i.Name).Select(i => i.Name).ToListAsync(ct);
        if (live.Count > 0)
        {
            throw new ConflictException(
                $"The team still has {live.Count} instance(s) ({string.Join(", ", live.Take(5))}{(live.Count > 5 ? ", …" : "")}); delete them first.");
        }

        var rules = await db.ApprovalRules.Where(r => r.TeamId == teamId).Select(r => r.Name).ToListAsync(ct);
        if (rules.Count > 0)
        {
            throw new ConflictException($"The approval policy's rule(s) {string.Join(", ", rules)} name this team; change the policy first.");
        }

        var serviceAccounts = await db.Users
            .Where(u => u.ClientId != null && db.TeamMembers.Any(m => m.TeamId == teamId && m.UserId == u.Id))
            .ToListAsync(ct);
        db.Users.RemoveRange(serviceAccounts);
        // Members, quota, webhooks, approval requests, and each instance's bindings and operations cascade.
        db.Instances.RemoveRange(await db.Instances.Where(i => i.TeamId == teamId).ToListAsync(ct));
        db.Teams.Remove(team);
        db.Audit(actor, clock.GetUtcNow(), "team.deleted", "team", team.Id, team.Id,
            $"{team.Name} ({team.Slug})" + (serviceAccounts.Count == 0 ? "" : $"; service accounts {string.Join(", ", serviceAccounts.Select(a => a.ClientId))} deleted"));
        await db.SaveRemovalOrConflictAsync("Something was just added to the team; reload and try again.", ct);
        await tx.CommitAsync(ct);

        // After the commit: a client left behind by a failure here has no account, so it signs nobody in. In a scope of
        // its own: the request's context tracks the caller's token, which may be one of these clients'.
        await using var scope = scopes.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        foreach (var account in serviceAccounts)
        {
            if (await applications.FindByClientIdAsync(account.ClientId!, CancellationToken.None) is { } app)
            {
                await applications.DeleteAsync(app, CancellationToken.None);
            }
        }
    }
}
