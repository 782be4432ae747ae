using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;

namespace Portal.Application.Egress;

/// <summary>
/// Removes an allow entry. From then on webhooks are refused at connect time and monitoring instances at their next
/// apply or reconcile. Platform admins only; audited.
/// </summary>
public sealed class RemoveEgressAllowEntryHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task HandleAsync(Actor actor, Guid entryId, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entry = await db.EgressAllowList.FirstOrDefaultAsync(e => e.Id == entryId, ct) ?? throw new NotFoundException("Egress allow entry");
        var scope = entry.BackendId is { } backendId
            ? $"backend {await db.Backends.Where(b => b.Id == backendId).Select(b => b.Name).FirstOrDefaultAsync(ct)}"
            : entry.Site is not null ? $"site {entry.Site}" : "everywhere";
        db.EgressAllowList.Remove(entry);
        db.Audit(actor, clock.GetUtcNow(), "egress.allow-removed", "egress-allow-entry", entry.Id, null, $"{entry.Target} for {scope}");
        await db.SaveChangesAsync(ct);
    }
}
