using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Backends;
using Portal.Provisioning;

namespace Portal.Application.Backends;

/// <param name="Site">Where it stands, e.g. <c>dc1</c> (the default).</param>
/// <param name="Capacity">The most instances placement puts on it; null: no limit.</param>
/// <param name="Settings">The kind's further settings, e.g. RabbitMQ's <c>managementUrl</c>.</param>
/// <param name="WorkerQueue">The job queue of a worker beside the server (drivers that write its files); null: default.</param>
public sealed record RegisterBackend(
    string Name, string Kind, [Text(253)] string Host, int Port, [Text(InputRules.NameLength, Plain = true)] string AdminUser,
    [Text(1000)] string AdminPassword, string? Site = null, [Range(0, 100_000)] int? Capacity = null,
    [Text(InputRules.UrlLength, Plain = true)] Dictionary<string, string>? Settings = null, string? WorkerQueue = null);

/// <summary>Registers a backend server; its admin password is stored encrypted. Platform admins only.</summary>
public sealed partial class RegisterBackendHandler(
    IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, DriverRegistry drivers, TimeProvider clock)
{
    public async Task<BackendView> HandleAsync(Actor actor, RegisterBackend request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Input(request)
            .Require(request.Name?.Trim().Length is >= 2 and <= 100, "name", "Give the backend a name of 2 to 100 characters.")
            .Require(request.Name is null || NameCharacters().IsMatch(request.Name), "name", "A backend name holds letters, digits, spaces and . _ - only.")
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

    [System.Text.RegularExpressions.GeneratedRegex(@"^[\p{L}\p{N} ._-]*\z")]
    private static partial System.Text.RegularExpressions.Regex NameCharacters();
}
