using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Backends;
using Portal.Provisioning;

namespace Portal.Application.Backends;

/// <summary>A backend as admins see it: never with its password.</summary>
/// <param name="Instances">Live instances placed on it (what counts against <paramref name="Capacity"/>).</param>
public sealed record BackendView(
    Guid Id, string Name, string Kind, string Host, int Port, string AdminUser,
    bool? LastCheckHealthy, string? LastCheckMessage, DateTimeOffset? LastCheckedAt,
    string Site = Backend.DefaultSite, int? Capacity = null, IReadOnlyDictionary<string, string>? Settings = null, int Instances = 0,
    string? WorkerQueue = null);

/// <param name="Site">Where it stands, e.g. <c>dc1</c> (the default).</param>
/// <param name="Capacity">The most instances placement puts on it; null: no limit.</param>
/// <param name="Settings">The kind's further settings, e.g. RabbitMQ's <c>managementUrl</c>.</param>
/// <param name="WorkerQueue">The job queue of a worker beside the server (drivers that write its files); null: default.</param>
public sealed record RegisterBackend(
    string Name, string Kind, string Host, int Port, string AdminUser, string AdminPassword,
    string? Site = null, int? Capacity = null, Dictionary<string, string>? Settings = null, string? WorkerQueue = null);

/// <param name="AdminPassword">A new admin password, or empty to keep the stored one.</param>
/// <param name="Site">A new site, or null to keep it.</param>
/// <param name="Capacity">The most instances; null: no limit.</param>
/// <param name="Settings">The kind's settings, or null to keep them.</param>
/// <param name="WorkerQueue">The job queue of a worker beside the server; null or empty: the default queue.</param>
public sealed record UpdateBackend(
    string Host, int Port, string AdminUser, string? AdminPassword,
    string? Site = null, int? Capacity = null, Dictionary<string, string>? Settings = null, string? WorkerQueue = null);

public static class BackendMapping
{
    public static BackendView ToView(this Backend b, int instances = 0) =>
        new(b.Id, b.Name, b.Kind, b.Host, b.Port, b.AdminUser, b.LastCheckHealthy, b.LastCheckMessage, b.LastCheckedAt,
            b.Site, b.Capacity, b.Settings, instances, b.WorkerQueue);

    public static BackendEndpoint ToEndpoint(this Backend b, SecretProtector secrets) =>
        new(b.Host, b.Port, b.AdminUser, secrets.Unprotect(b.ProtectedAdminPassword)) { Settings = b.Settings };

    /// <summary>The settings a backend of the kind takes: the driver's own, and <c>tls</c> where the driver talks TLS.</summary>
    public static IReadOnlyList<DriverField> SettingsOf(IServiceDriver driver) =>
        driver.SupportsTls ? [.. driver.BackendSettings, BackendEndpoint.TlsSetting] : driver.BackendSettings;

    /// <summary>Checks site, capacity and the kind's settings (required ones present, no unknown names).</summary>
    internal static Validator RequireBackendShape(
        this Validator v, IServiceDriver? driver, string? site, int? capacity, IReadOnlyDictionary<string, string>? settings,
        string? workerQueue = null)
    {
        v.Require(site is null || Placement.IsSiteName(site), "site", $"The site must be {Placement.SiteRule}.")
         .Require(string.IsNullOrEmpty(workerQueue) || Placement.IsQueueName(workerQueue), "workerQueue",
             "A worker queue is 1 to 40 lowercase letters, digits, dashes or underscores, e.g. dc2-logging.")
         .Require(capacity is null or >= 0, "capacity", "The capacity cannot be negative; leave it empty for no limit.");
        if (driver is null || settings is null)
        {
            return v;
        }

        var known = SettingsOf(driver).Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = settings.Keys.Where(k => !known.Contains(k)).ToList();
        v.Require(unknown.Count == 0, "settings",
            $"Unknown setting {string.Join(", ", unknown)}; a {driver.Kind} backend has {(known.Count == 0 ? "none" : string.Join(", ", known))}.");
        foreach (var field in driver.BackendSettings.Where(f => f.Required))
        {
            v.Require(!string.IsNullOrWhiteSpace(settings.GetValueOrDefault(field.Name)), "settings",
                $"Give the setting {field.Name}: {field.Help}");
        }

        return v;
    }

    internal static Dictionary<string, string> Cleaned(this IReadOnlyDictionary<string, string>? settings) =>
        (settings ?? new Dictionary<string, string>()).Where(kv => !string.IsNullOrWhiteSpace(kv.Value))
            .ToDictionary(kv => kv.Key, kv => kv.Value.Trim(), StringComparer.Ordinal);
}

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
            .RequireBackendShape(drivers.Find(request.Kind), request.Site ?? Backend.DefaultSite, request.Capacity, request.Settings.Cleaned(), request.WorkerQueue)
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
            Site = request.Site?.Trim() ?? Backend.DefaultSite,
            Capacity = request.Capacity,
            Settings = request.Settings.Cleaned(),
            WorkerQueue = string.IsNullOrWhiteSpace(request.WorkerQueue) ? null : request.WorkerQueue.Trim(),
            CreatedAt = clock.GetUtcNow(),
        };
        db.Backends.Add(backend);
        db.Audit(actor, backend.CreatedAt, "backend.registered", "backend", backend.Id, null,
            $"{backend.Name}: {backend.Kind} at {backend.Host}:{backend.Port}, site {backend.Site}, capacity {backend.Capacity?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unlimited"}");
        await db.SaveOrConflictAsync($"A backend named '{name}' exists already.", ct);
        return backend.ToView();
    }
}

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
