using Microsoft.EntityFrameworkCore;
using Portal.Data;
using Portal.Domain.Catalog;
using Portal.Provisioning;

namespace Portal.Application.Catalog;

/// <summary>The catalog: every active offering with its active plans. Open to every signed-in user.</summary>
public sealed class ListOfferingsHandler(IDbContextFactory<PortalDbContext> dbFactory, DriverRegistry drivers)
{
    public async Task<IReadOnlyList<OfferingView>> HandleAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offerings = await db.Offerings.AsNoTracking()
            .Where(o => o.IsActive)
            .Include(o => o.Plans.Where(p => p.IsActive).OrderBy(p => p.MonthlyCost).ThenBy(p => p.Id))
            .OrderBy(o => o.Category).ThenBy(o => o.Name)
            .ToListAsync(ct);
        var sites = await db.Backends.AsNoTracking().Select(b => new { b.Id, b.Site }).ToDictionaryAsync(b => b.Id, b => b.Site, ct);
        return offerings.Select(o => ToView(o, sites, drivers)).ToList();
    }

    internal static OfferingView ToView(Offering o, IReadOnlyDictionary<Guid, string> sites, DriverRegistry drivers)
    {
        var driver = drivers.Find(o.Kind);
        return new(
            o.Id, o.Key, o.Kind, o.Name, o.Description, o.Category, o.BackendIds.Count > 0 && driver is not null, o.BackendIds,
            o.Plans.Select(p => new PlanView(p.Id, p.Key, p.Name, p.Description, p.MonthlyCost, p.Limits, p.MaxLeaseDays)).ToList(),
            o.BackendIds.Select(id => sites.GetValueOrDefault(id)).OfType<string>().Distinct().Order().ToList(),
            driver?.InstanceParameters ?? [], Bindings.CredentialKeys.PlanLimitsOf(driver));
    }
}
