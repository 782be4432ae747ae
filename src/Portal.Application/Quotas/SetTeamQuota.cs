using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;
using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Quotas;

namespace Portal.Application.Quotas;

/// <param name="MaxInstances">Null: the default.</param>
/// <param name="MaxMonthlyCost">Null: the default.</param>
/// <param name="MaxInstancesPerOffering">Offering key → maximum; null or empty: the defaults.</param>
/// <remarks>All three must be given (null to mean the default): a PUT that leaves one out does not reset it silently.</remarks>
public sealed record SetTeamQuota(
    [property: JsonRequired][Range(0, 100_000)] int? MaxInstances,
    [property: JsonRequired][Range(0d, 100_000_000d)] decimal? MaxMonthlyCost,
    [property: JsonRequired][Range(0, 100_000)] Dictionary<string, int>? MaxInstancesPerOffering);

/// <summary>Overrides a team's quota (null limits fall back to the defaults). Platform admins only.</summary>
public sealed class SetTeamQuotaHandler(IDbContextFactory<PortalDbContext> dbFactory, QuotaService quotas, TimeProvider clock)
{
    public async Task<TeamQuotaView> HandleAsync(Actor actor, Guid teamId, SetTeamQuota request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Input(request)
            .Require(request.MaxInstances is null or >= 0, "maxInstances", "The instance limit cannot be negative.")
            .Require(request.MaxMonthlyCost is null or >= 0, "maxMonthlyCost", "The cost limit cannot be negative.")
            .Require(request.MaxInstancesPerOffering?.Values.All(v => v >= 0) ?? true, "maxInstancesPerOffering", "Limits cannot be negative.")
            .ThrowIfInvalid();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (!await db.Teams.AnyAsync(t => t.Id == teamId, ct))
        {
            throw new NotFoundException("Team");
        }

        var quota = await db.TeamQuotas.FirstOrDefaultAsync(q => q.TeamId == teamId, ct);
        if (quota is null)
        {
            db.TeamQuotas.Add(quota = new TeamQuota { TeamId = teamId });
        }

        quota.MaxInstances = request.MaxInstances;
        quota.MaxMonthlyCost = request.MaxMonthlyCost;
        quota.MaxInstancesPerOffering = request.MaxInstancesPerOffering ?? [];
        db.Audit(actor, clock.GetUtcNow(), "team.quota-set", "team", teamId, teamId,
            FormattableString.Invariant($"instances {request.MaxInstances?.ToString(CultureInfo.InvariantCulture) ?? "default"}, monthly cost {request.MaxMonthlyCost?.ToString("0.00", CultureInfo.InvariantCulture) ?? "default"}") +
            string.Concat(quota.MaxInstancesPerOffering.Select(kv => $", {kv.Key} {kv.Value}")));
        await db.SaveOrConflictAsync("The quota was changed at the same moment; reload and try again.", ct);
        var (use, isDefault) = await quotas.GetUseAsync(db, teamId, ct);
        return new TeamQuotaView(teamId, use, isDefault);
    }
}
