using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;
using Portal.Provisioning;

namespace Portal.Application.Catalog;

/// <summary>
/// The catalog: every active offering with its active plans. Open to every signed-in user; with
/// <c>includeRetired</c>, platform admins also see retired plans (to reinstate or delete them).
/// </summary>
public sealed class ListOfferingsHandler(IDbContextFactory<PortalDbContext> dbFactory, DriverRegistry drivers)
{
    public async Task<IReadOnlyList<OfferingView>> HandleAsync(CancellationToken ct = default) =>
        await ListAsync(includeRetired: false, ct);

    public async Task<IReadOnlyList<OfferingView>> HandleAsync(Actor actor, bool includeRetired, CancellationToken ct = default)
    {
        if (includeRetired)
        {
            actor.RequirePlatformAdmin();
        }

        return await ListAsync(includeRetired, ct);
    }

    private async Task<IReadOnlyList<OfferingView>> ListAsync(bool includeRetired, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offerings = await db.Offerings.AsNoTracking()
            .Where(o => o.IsActive)
            .Include(o => o.Plans.Where(p => includeRetired || p.IsActive).OrderBy(p => p.MonthlyCost).ThenBy(p => p.Id))
            .OrderBy(o => o.Category).ThenBy(o => o.Name)
            .ToListAsync(ct);
        var sites = await db.Backends.AsNoTracking().Where(b => b.RetiredAt == null)
            .Select(b => new { b.Id, b.Site }).ToDictionaryAsync(b => b.Id, b => b.Site, ct);
        return offerings.Select(o => CatalogMapping.ToView(o, sites, drivers)).ToList();
    }
}
