using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Quotas;

/// <summary>A team's quota and its use. Members of the team and platform admins.</summary>
public sealed class GetTeamQuotaHandler(IDbContextFactory<PortalDbContext> dbFactory, QuotaService quotas)
{
    public async Task<TeamQuotaView> HandleAsync(Actor actor, Guid teamId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireAsync(actor, teamId, TeamPermission.View, "Team", ct);
        var (use, isDefault) = await quotas.GetUseAsync(db, teamId, ct);
        return new TeamQuotaView(teamId, use, isDefault);
    }
}
