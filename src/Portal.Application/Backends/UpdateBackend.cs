using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Data.Security;
using Portal.Provisioning;

namespace Portal.Application.Backends;

/// <param name="AdminPassword">A new admin password, or empty to keep the stored one.</param>
/// <param name="Site">A new site, or null to keep it.</param>
/// <param name="Capacity">The most instances; null: no limit.</param>
/// <param name="Settings">The kind's settings, or null to keep them.</param>
/// <param name="WorkerQueue">The job queue of a worker beside the server; null or empty: the default queue.</param>
public sealed record UpdateBackend(
    [Text(253)] string Host, int Port, [Text(InputRules.NameLength, Plain = true)] string AdminUser,
    [Text(1000)] string? AdminPassword, string? Site = null, [Range(0, 100_000)] int? Capacity = null,
    [Text(InputRules.UrlLength, Plain = true)] Dictionary<string, string>? Settings = null, string? WorkerQueue = null);

/// <summary>
/// Changes where a backend is or how the portal signs in to it (e.g. after the admin password was
/// rotated). Its instances keep their names; the next operation uses the new details. Platform admins only.
/// </summary>
public sealed class UpdateBackendHandler(
    IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, DriverRegistry drivers, TimeProvider clock)
{
    public async Task<BackendView> HandleAsync(Actor actor, Guid backendId, UpdateBackend request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var backend = await db.Backends.FirstOrDefaultAsync(b => b.Id == backendId, ct) ?? throw new NotFoundException("Backend");
        new Validator()
            .Input(request)
            .Require(Uri.CheckHostName(request.Host) != UriHostNameType.Unknown, "host", "The host must be a host name or an IP address.")
            .Require(request.Port is > 0 and < 65536, "port", "The port must be between 1 and 65535.")
            .Require(!string.IsNullOrWhiteSpace(request.AdminUser), "adminUser", "Name the admin user.")
            .RequireBackendShape(drivers.Find(backend.Kind), request.Site, request.Capacity, request.Settings?.Cleaned(), request.WorkerQueue)
            .ThrowIfInvalid();

        // Lowering the capacity below the use stops new placements only; nothing moves.
        backend.Site = request.Site?.Trim() ?? backend.Site;
        backend.Capacity = request.Capacity;
        backend.WorkerQueue = string.IsNullOrWhiteSpace(request.WorkerQueue) ? null : request.WorkerQueue.Trim();
        if (request.Settings is not null)
        {
            backend.Settings = request.Settings.Cleaned();
        }

        backend.Host = request.Host.Trim();
        backend.Port = request.Port;
        backend.AdminUser = request.AdminUser.Trim();
        if (!string.IsNullOrEmpty(request.AdminPassword))
        {
            backend.ProtectedAdminPassword = secrets.Protect(request.AdminPassword);
        }

        backend.LastCheckHealthy = null;
        backend.LastCheckMessage = null;
        backend.LastCheckedAt = null;
        db.Audit(actor, clock.GetUtcNow(), "backend.updated", "backend", backend.Id, null,
            $"{backend.Name}: {backend.AdminUser}@{backend.Host}:{backend.Port}, site {backend.Site}, capacity {backend.Capacity?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unlimited"}" +
            (string.IsNullOrEmpty(request.AdminPassword) ? "" : ", new password"));
        await db.SaveChangesAsync(ct);
        return backend.ToView(await db.Instances.Live().CountAsync(i => i.BackendId == backend.Id, ct));
    }
}
