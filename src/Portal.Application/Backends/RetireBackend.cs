using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;

namespace Portal.Application.Backends;

/// <summary>
/// Takes a backend out of placement (retire) or puts it back (reinstate). The instances on a retired backend keep
/// running and can be changed, bound and deleted as before; only new instances go elsewhere. Platform admins only.
/// </summary>
public sealed class RetireBackendHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public Task<BackendView> RetireAsync(Actor actor, Guid backendId, CancellationToken ct = default) =>
        SetAsync(actor, backendId, retire: true, ct);

    public Task<BackendView> ReinstateAsync(Actor actor, Guid backendId, CancellationToken ct = default) =>
        SetAsync(actor, backendId, retire: false, ct);

    private async Task<BackendView> SetAsync(Actor actor, Guid backendId, bool retire, CancellationToken ct)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var backend = await db.Backends.FirstOrDefaultAsync(b => b.Id == backendId, ct) ?? throw new NotFoundException("Backend");
        var live = await db.Instances.Live().CountAsync(i => i.BackendId == backend.Id, ct);
        if ((backend.RetiredAt is not null) == retire)
        {
            // Asking twice is answered with the state it is in, and not audited again.
            return backend.ToView(live);
        }

        var now = clock.GetUtcNow();
        backend.RetiredAt = retire ? now : null;
        db.Audit(actor, now, retire ? "backend.retired" : "backend.reinstated", "backend", backend.Id, null,
            retire ? $"{backend.Name}: no new instances; {live} live instance(s) stay" : $"{backend.Name}: back in placement");
        await db.SaveChangesAsync(ct);
        return backend.ToView(live);
    }
}
