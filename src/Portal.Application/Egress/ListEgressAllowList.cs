using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;

namespace Portal.Application.Egress;

/// <summary>The egress allow list: what user-given URLs may reach although the policy denies it. Platform admins only.</summary>
public sealed class ListEgressAllowListHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<IReadOnlyList<EgressAllowEntryView>> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.EgressAllowList.AsNoTracking()
            .OrderBy(e => e.Target).ThenBy(e => e.Site).ThenBy(e => e.BackendId)
            .Select(e => new EgressAllowEntryView(e.Id, e.Target, e.Site, e.BackendId,
                db.Backends.Where(b => b.Id == e.BackendId).Select(b => b.Name).FirstOrDefault(), e.Note, e.CreatedAt, e.CreatedBy))
            .ToListAsync(ct);
    }
}
