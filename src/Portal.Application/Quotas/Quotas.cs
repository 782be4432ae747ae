using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Instances;
using Portal.Domain.Quotas;

namespace Portal.Application.Quotas;

/// <summary>Every team's quota unless a platform admin set another (section <c>Quotas:Defaults</c>).</summary>
public sealed class QuotaDefaults
{
    public int MaxInstances { get; set; } = 10;

    public decimal MaxMonthlyCost { get; set; } = 500m;

    public Dictionary<string, int> MaxInstancesPerOffering { get; set; } = [];
}

/// <summary>A request that would go over a quota; answered 409 with the quota, its limit and the use.</summary>
public sealed class QuotaExceededException(QuotaBreach breach) : PortalException("Quota exceeded", breach.Message)
{
    public QuotaBreach Breach { get; } = breach;

    public override int StatusCode => 409;
}

public sealed record TeamQuotaView(Guid TeamId, QuotaUse Use, bool IsDefault);

/// <param name="MaxInstances">Null: the default.</param>
/// <param name="MaxMonthlyCost">Null: the default.</param>
/// <param name="MaxInstancesPerOffering">Offering key → maximum; null or empty: the defaults.</param>
public sealed record SetTeamQuota(int? MaxInstances, decimal? MaxMonthlyCost, Dictionary<string, int>? MaxInstancesPerOffering);

/// <summary>Works out a team's limits (its overrides over the defaults) and its current use, in SQL.</summary>
public sealed class QuotaService(IOptions<QuotaDefaults> defaults)
{
    public async Task<(QuotaUse Use, bool IsDefault)> GetUseAsync(PortalDbContext db, Guid teamId, CancellationToken ct)
    {
        var quota = await db.TeamQuotas.AsNoTracking().FirstOrDefaultAsync(q => q.TeamId == teamId, ct);
        var live = from i in db.Instances.Live()
                   where i.TeamId == teamId
                   join p in db.Plans on i.PlanId equals p.Id
                   join o in db.Offerings on i.OfferingId equals o.Id
                   select new { o.Key, p.MonthlyCost };
        var perOffering = await live.GroupBy(x => x.Key).Select(g => new { g.Key, Count = g.Count(), Cost = g.Sum(x => x.MonthlyCost) }).ToListAsync(ct);
        var d = defaults.Value;
        var maxPerOffering = new Dictionary<string, int>(d.MaxInstancesPerOffering);
        foreach (var (key, max) in quota?.MaxInstancesPerOffering ?? [])
        {
            maxPerOffering[key] = max;
        }

        var use = new QuotaUse(
            quota?.MaxInstances ?? d.MaxInstances,
            perOffering.Sum(x => x.Count),
            quota?.MaxMonthlyCost ?? d.MaxMonthlyCost,
            perOffering.Sum(x => x.Cost),
            maxPerOffering,
            perOffering.ToDictionary(x => x.Key, x => x.Count));
        return (use, quota is null);
    }

    /// <summary>Like <see cref="EnsureRoomAsync"/>, for a plan change that adds <paramref name="extraMonthlyCost"/>.</summary>
    public async Task EnsureCostRoomAsync(PortalDbContext db, Guid teamId, decimal extraMonthlyCost, CancellationToken ct)
    {
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({BitConverter.ToInt64(teamId.ToByteArray(), 0)})", ct);
        var (use, _) = await GetUseAsync(db, teamId, ct);
        if (extraMonthlyCost > 0 && use.MonthlyCost + extraMonthlyCost > use.MaxMonthlyCost)
        {
            throw new QuotaExceededException(new QuotaBreach("monthly cost", $"{use.MaxMonthlyCost:0.00}", $"{use.MonthlyCost:0.00}",
                $"The team's quota allows {use.MaxMonthlyCost:0.00} a month; it uses {use.MonthlyCost:0.00} and the new plan adds {extraMonthlyCost:0.00}."));
        }
    }

    /// <summary>
    /// Takes the team's quota lock for the current transaction, then refuses the request if one more
    /// instance would go over a quota. Two simultaneous requests are counted one after the other.
    /// </summary>
    public async Task EnsureRoomAsync(PortalDbContext db, Guid teamId, string offering, decimal monthlyCost, CancellationToken ct)
    {
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({BitConverter.ToInt64(teamId.ToByteArray(), 0)})", ct);
        var (use, _) = await GetUseAsync(db, teamId, ct);
        if (use.Breach(offering, monthlyCost) is { } breach)
        {
            throw new QuotaExceededException(breach);
        }
    }
}

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

/// <summary>Overrides a team's quota (null limits fall back to the defaults). Platform admins only.</summary>
public sealed class SetTeamQuotaHandler(IDbContextFactory<PortalDbContext> dbFactory, QuotaService quotas, TimeProvider clock)
{
    public async Task<TeamQuotaView> HandleAsync(Actor actor, Guid teamId, SetTeamQuota request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
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
            $"instances {request.MaxInstances?.ToString() ?? "default"}, monthly cost {request.MaxMonthlyCost?.ToString("0.00") ?? "default"}" +
            string.Concat(quota.MaxInstancesPerOffering.Select(kv => $", {kv.Key} {kv.Value}")));
        await db.SaveOrConflictAsync("The quota was changed at the same moment; reload and try again.", ct);
        var (use, isDefault) = await quotas.GetUseAsync(db, teamId, ct);
        return new TeamQuotaView(teamId, use, isDefault);
    }
}
