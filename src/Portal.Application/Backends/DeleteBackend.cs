using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;

namespace Portal.Application.Backends;

/// <summary>
/// Deletes a backend that no instance was ever placed on (e.g. one registered by mistake), with its stored admin
/// password, and takes it out of every offering. A backend that holds instances, live or in their history, is
/// retired instead: the history of its instances names it. Platform admins only.
/// </summary>
public sealed class DeleteBackendHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task HandleAsync(Actor actor, Guid backendId, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var backend = await db.Backends.FirstOrDefaultAsync(b => b.Id == backendId, ct) ?? throw new NotFoundException("Backend");
        var live = await db.Instances.Live().CountAsync(i => i.BackendId == backend.Id, ct);
        if (live > 0)
        {
            throw new ConflictException(
                $"{backend.Name} holds {live} live instance(s); it can be retired (no new instances), and deleted once nothing was ever placed on it.");
        }

        var history = await db.Instances.CountAsync(i => i.BackendId == backend.Id, ct);
        if (history > 0)
        {
            throw new ConflictException(
                $"{backend.Name} is named in the history of {history} deleted instance(s), so it stays on record; retire it to keep new instances off it.");
        }

        var offerings = await db.Offerings.Where(o => o.BackendIds.Contains(backend.Id)).ToListAsync(ct);
        foreach (var offering in offerings)
        {
            offering.BackendIds = offering.BackendIds.Where(id => id != backend.Id).ToList();
        }

        db.Backends.Remove(backend);
        db.Audit(actor, clock.GetUtcNow(), "backend.deleted", "backend", backend.Id, null,
            $"{backend.Name} ({backend.Kind} at {backend.Host}:{backend.Port})" +
            (offerings.Count == 0 ? "" : $"; taken out of {string.Join(", ", offerings.Select(o => o.Key).Order(StringComparer.Ordinal))}"));
        await db.SaveRemovalOrConflictAsync($"An instance was just placed on {backend.Name}; retire it first.", ct);
    }
}
