using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
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
