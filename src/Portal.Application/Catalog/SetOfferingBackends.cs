using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Provisioning;

namespace Portal.Application.Catalog;

/// <summary>
/// Sets the backends an offering's new instances may be placed on; existing instances stay where they are.
/// Platform admins only.
/// </summary>
public sealed class SetOfferingBackendsHandler(IDbContextFactory<PortalDbContext> dbFactory, DriverRegistry drivers, TimeProvider clock)
{
    public async Task<OfferingView> HandleAsync(Actor actor, Guid offeringId, IReadOnlyList<Guid> backendIds, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offering = await db.Offerings.Include(o => o.Plans).FirstOrDefaultAsync(o => o.Id == offeringId, ct)
            ?? throw new NotFoundException("Offering");
        var ids = (backendIds ?? []).Distinct().ToList();
        var backends = await db.Backends.Where(b => ids.Contains(b.Id)).ToListAsync(ct);
        if (backends.Count != ids.Count)
        {
            throw ValidationException.For("backendIds", "No such backend: " + string.Join(", ", ids.Except(backends.Select(b => b.Id))) + ".");
        }

        if (backends.FirstOrDefault(b => b.Kind != offering.Kind) is { } wrong)
        {
            throw ValidationException.For("backendIds", $"The offering needs {offering.Kind} backends; {wrong.Name} is {wrong.Kind}.");
        }

        offering.BackendIds = ids;
        db.Audit(actor, clock.GetUtcNow(), "offering.backends-set", "offering", offering.Id, null,
            $"{offering.Key} on {(backends.Count == 0 ? "no backend" : string.Join(", ", backends.Select(b => b.Name).Order()))}");
        await db.SaveChangesAsync(ct);
        var sites = backends.Where(b => b.RetiredAt is null).ToDictionary(b => b.Id, b => b.Site);
        return CatalogMapping.ToView(offering, sites, drivers);
    }
}
