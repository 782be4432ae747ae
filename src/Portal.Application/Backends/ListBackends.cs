using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;

namespace Portal.Application.Backends;

/// <summary>Every backend with its use and last health check. Platform admins only.</summary>
public sealed class ListBackendsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<IReadOnlyList<BackendView>> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var backends = await db.Backends.AsNoTracking().OrderBy(b => b.Name).ToListAsync(ct);
        var use = await Placement.LiveInstancesByBackendAsync(db, ct);
        return backends.Select(b => b.ToView(use.GetValueOrDefault(b.Id))).ToList();
    }
}
