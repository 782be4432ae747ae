using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Provisioning;

namespace Portal.Application.Backends;

/// <summary>"Test connection": signs in to the backend with its admin credentials and records the outcome.</summary>
public sealed class TestBackendHandler(
    IDbContextFactory<PortalDbContext> dbFactory, BackendEndpoints endpoints, DriverRegistry drivers, TimeProvider clock)
{
    public async Task<BackendView> HandleAsync(Actor actor, Guid backendId, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var backend = await db.Backends.FirstOrDefaultAsync(b => b.Id == backendId, ct) ?? throw new NotFoundException("Backend");
        var report = await drivers.Get(backend.Kind).TestBackendAsync(await endpoints.ForAsync(backend, ct), ct);
        backend.LastCheckHealthy = report.Healthy;
        backend.LastCheckMessage = report.Message.Length > 1000 ? report.Message[..1000] : report.Message;
        backend.LastCheckedAt = clock.GetUtcNow();
        db.Audit(actor, backend.LastCheckedAt.Value, "backend.tested", "backend", backend.Id, null, backend.LastCheckMessage,
            report.Healthy ? Portal.Domain.Audit.AuditOutcomes.Success : Portal.Domain.Audit.AuditOutcomes.Failure);
        await db.SaveChangesAsync(ct);
        return backend.ToView(await db.Instances.Live().CountAsync(i => i.BackendId == backend.Id, ct));
    }
}
