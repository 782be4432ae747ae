using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Backends;
using Portal.Provisioning;

namespace Portal.Application.Backends;

/// <summary>A backend as admins see it: never with its password.</summary>
public sealed record BackendView(
    Guid Id, string Name, string Kind, string Host, int Port, string AdminUser,
    bool? LastCheckHealthy, string? LastCheckMessage, DateTimeOffset? LastCheckedAt);

public sealed record RegisterBackend(string Name, string Kind, string Host, int Port, string AdminUser, string AdminPassword);

/// <param name="AdminPassword">A new admin password, or empty to keep the stored one.</param>
public sealed record UpdateBackend(string Host, int Port, string AdminUser, string? AdminPassword);

public static class BackendMapping
{
    public static BackendView ToView(this Backend b) =>
        new(b.Id, b.Name, b.Kind, b.Host, b.Port, b.AdminUser, b.LastCheckHealthy, b.LastCheckMessage, b.LastCheckedAt);

    public static BackendEndpoint ToEndpoint(this Backend b, SecretProtector secrets) =>
        new(b.Host, b.Port, b.AdminUser, secrets.Unprotect(b.ProtectedAdminPassword));
}

public sealed class ListBackendsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<IReadOnlyList<BackendView>> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var backends = await db.Backends.AsNoTracking().OrderBy(b => b.Name).ToListAsync(ct);
        return backends.Select(b => b.ToView()).ToList();
    }
}

/// <summary>Registers a backend server; its admin password is stored encrypted. Platform admins only.</summary>
public sealed class RegisterBackendHandler(
    IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, DriverRegistry drivers, TimeProvider clock)
{
    public async Task<BackendView> HandleAsync(Actor actor, RegisterBackend request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Require(request.Name?.Trim().Length is >= 2 and <= 100, "name", "Give the backend a name of 2 to 100 characters.")
            .Require(drivers.Find(request.Kind) is not null, "kind", $"The kind must be one of: {string.Join(", ", drivers.Kinds)}.")
            .Require(Uri.CheckHostName(request.Host) != UriHostNameType.Unknown, "host", "The host must be a host name or an IP address.")
            .Require(request.Port is > 0 and < 65536, "port", "The port must be between 1 and 65535.")
            .Require(!string.IsNullOrWhiteSpace(request.AdminUser), "adminUser", "Name the admin user.")
            .Require(!string.IsNullOrEmpty(request.AdminPassword), "adminPassword", "Give the admin password.")
            .ThrowIfInvalid();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var name = request.Name!.Trim();
        if (await db.Backends.AnyAsync(b => b.Name == name, ct))
        {
            throw new ConflictException($"A backend named '{name}' exists already.");
        }

        var backend = new Backend
        {
            Name = name,
            Kind = request.Kind,
            Host = request.Host.Trim(),
            Port = request.Port,
            AdminUser = request.AdminUser.Trim(),
            ProtectedAdminPassword = secrets.Protect(request.AdminPassword),
            CreatedAt = clock.GetUtcNow(),
        };
        db.Backends.Add(backend);
        db.Audit(actor, backend.CreatedAt, "backend.registered", "backend", backend.Id, null, $"{backend.Name}: {backend.Kind} at {backend.Host}:{backend.Port}");
        await db.SaveOrConflictAsync($"A backend named '{name}' exists already.", ct);
        return backend.ToView();
    }
}

/// <summary>
/// Changes where a backend is or how the portal signs in to it (e.g. after the admin password was
/// rotated). Its instances keep their names; the next operation uses the new details. Platform admins only.
/// </summary>
public sealed class UpdateBackendHandler(IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, TimeProvider clock)
{
    public async Task<BackendView> HandleAsync(Actor actor, Guid backendId, UpdateBackend request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Require(Uri.CheckHostName(request.Host) != UriHostNameType.Unknown, "host", "The host must be a host name or an IP address.")
            .Require(request.Port is > 0 and < 65536, "port", "The port must be between 1 and 65535.")
            .Require(!string.IsNullOrWhiteSpace(request.AdminUser), "adminUser", "Name the admin user.")
            .ThrowIfInvalid();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var backend = await db.Backends.FirstOrDefaultAsync(b => b.Id == backendId, ct) ?? throw new NotFoundException("Backend");
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
            $"{backend.Name}: {backend.AdminUser}@{backend.Host}:{backend.Port}{(string.IsNullOrEmpty(request.AdminPassword) ? "" : ", new password")}");
        await db.SaveChangesAsync(ct);
        return backend.ToView();
    }
}

/// <summary>"Test connection": signs in to the backend with its admin credentials and records the outcome.</summary>
public sealed class TestBackendHandler(
    IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, DriverRegistry drivers, TimeProvider clock)
{
    public async Task<BackendView> HandleAsync(Actor actor, Guid backendId, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var backend = await db.Backends.FirstOrDefaultAsync(b => b.Id == backendId, ct) ?? throw new NotFoundException("Backend");
        var report = await drivers.Get(backend.Kind).TestBackendAsync(backend.ToEndpoint(secrets), ct);
        backend.LastCheckHealthy = report.Healthy;
        backend.LastCheckMessage = report.Message.Length > 1000 ? report.Message[..1000] : report.Message;
        backend.LastCheckedAt = clock.GetUtcNow();
        db.Audit(actor, backend.LastCheckedAt.Value, "backend.tested", "backend", backend.Id, null, backend.LastCheckMessage,
            report.Healthy ? Portal.Domain.Audit.AuditOutcomes.Success : Portal.Domain.Audit.AuditOutcomes.Failure);
        await db.SaveChangesAsync(ct);
        return backend.ToView();
    }
}
