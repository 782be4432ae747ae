using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Access;
using Portal.Domain.Audit;
using Portal.Domain.Backends;
using Portal.Domain.Catalog;
using Portal.Domain.Teams;

namespace Portal.Migrations;

public sealed class DemoOptions
{
    public bool Enabled { get; set; }

    public string AdminEmail { get; set; } = "admin@portal.local";

    /// <summary>Where the generated admin password is also written (mode 600), so it can be found again.</summary>
    public string? AdminPasswordFile { get; set; }

    public string TeamSlug { get; set; } = "demo";

    public DemoBackendOptions PostgresBackend { get; set; } = new();
}

public sealed class DemoBackendOptions
{
    public string Name { get; set; } = "demo-postgres";

    public string Host { get; set; } = "127.0.0.1";

    public int Port { get; set; }

    public string AdminUser { get; set; } = "postgres";

    public string? AdminPassword { get; set; }
}

/// <summary>
/// Seeds what every portal needs (platform roles, the catalog's offerings and plans) and, when
/// <c>Demo:Enabled</c>, a demo: an admin account, a demo team, and the demo PostgreSQL backend.
/// Idempotent: it adds what is missing and changes nothing that exists.
/// </summary>
public sealed class PortalSeeder(
    IDbContextFactory<PortalDbContext> dbFactory,
    RoleManager<IdentityRole<Guid>> roles,
    UserManager<PortalUser> users,
    SecretProtector secrets,
    IOptions<DemoOptions> demo,
    TimeProvider clock,
    ILogger<PortalSeeder> logger)
{
    public async Task SeedAsync(CancellationToken ct = default)
    {
        foreach (var role in PlatformRoles.All)
        {
            if (!await roles.RoleExistsAsync(role))
            {
                await roles.CreateAsync(new IdentityRole<Guid>(role) { Id = Guid.CreateVersion7() });
            }
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var postgres = await SeedPostgresOfferingAsync(db, ct);
        if (demo.Value.Enabled)
        {
            await SeedDemoAsync(db, postgres, ct);
        }
    }

    private static async Task<Offering> SeedPostgresOfferingAsync(PortalDbContext db, CancellationToken ct)
    {
        var offering = await db.Offerings.Include(o => o.Plans).FirstOrDefaultAsync(o => o.Key == "postgresql", ct);
        if (offering is null)
        {
            offering = new Offering
            {
                Key = "postgresql",
                Kind = "postgresql",
                Name = "PostgreSQL database",
                Category = "Databases",
                Description = "A PostgreSQL 15 database of your own on the platform's database servers. " +
                              "Each binding is a login that reaches this database only.",
            };
            db.Offerings.Add(offering);
        }

        AddPlanIfMissing(db, offering, "small", "Small", "Up to 20 connections. For development: a 30-day lease, extendable.", 15m, 20, 30);
        AddPlanIfMissing(db, offering, "medium", "Medium", "Up to 100 connections. For production services.", 60m, 100, null);
        await db.SaveChangesAsync(ct);
        return offering;
    }

    private static void AddPlanIfMissing(
        PortalDbContext db, Offering offering, string key, string name, string description, decimal cost, int connections, int? maxLeaseDays)
    {
        if (offering.Plans.All(p => p.Key != key))
        {
            // Through the set: a new plan of an existing offering must be inserted, not updated.
            db.Plans.Add(new Plan
            {
                OfferingId = offering.Id,
                Key = key,
                Name = name,
                Description = description,
                MonthlyCost = cost,
                Limits = new() { ["connections"] = connections },
                MaxLeaseDays = maxLeaseDays,
            });
        }
    }

    private async Task SeedDemoAsync(PortalDbContext db, Offering postgres, CancellationToken ct)
    {
        var options = demo.Value;
        var admin = await users.FindByEmailAsync(options.AdminEmail);
        if (admin is null)
        {
            admin = new PortalUser
            {
                UserName = options.AdminEmail,
                Email = options.AdminEmail,
                EmailConfirmed = true,
                DisplayName = "Platform admin",
                CreatedAt = clock.GetUtcNow(),
            };
            var password = RandomNumberGenerator.GetString("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 20);
            Check(await users.CreateAsync(admin, password));
            Check(await users.AddToRoleAsync(admin, PlatformRoles.Admin));
            if (options.AdminPasswordFile is { Length: > 0 } file)
            {
                await File.WriteAllTextAsync(file, password + "\n", ct);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
            }

            db.AuditEvents.Add(SystemEvent("account.created", "account", admin.Id, $"{options.AdminEmail}, platform-admin (demo seed)"));

            // Printed once, on purpose: this is the only time the password exists in clear outside that file.
            Console.WriteLine($"Demo admin account: {options.AdminEmail}  password: {password}");
        }

        if (!await db.Teams.AnyAsync(t => t.Slug == options.TeamSlug, ct))
        {
            var team = new Team { Slug = options.TeamSlug, Name = "Demo team", CreatedAt = clock.GetUtcNow() };
            team.Members.Add(new TeamMember { TeamId = team.Id, UserId = admin.Id, Role = TeamRole.Owner, AddedAt = clock.GetUtcNow() });
            db.Teams.Add(team);
        }

        var backendOptions = options.PostgresBackend;
        if (backendOptions is { Port: > 0, AdminPassword.Length: > 0 })
        {
            var backend = await db.Backends.FirstOrDefaultAsync(b => b.Name == backendOptions.Name, ct);
            if (backend is null)
            {
                backend = new Backend
                {
                    Name = backendOptions.Name,
                    Kind = "postgresql",
                    Host = backendOptions.Host,
                    Port = backendOptions.Port,
                    AdminUser = backendOptions.AdminUser,
                    ProtectedAdminPassword = secrets.Protect(backendOptions.AdminPassword),
                    CreatedAt = clock.GetUtcNow(),
                };
                db.Backends.Add(backend);
                db.AuditEvents.Add(SystemEvent("backend.registered", "backend", backend.Id,
                    $"{backend.Name}: {backend.Kind} at {backend.Host}:{backend.Port} (demo seed)"));
                logger.LogInformation("Registered the demo backend {Backend} at {Host}:{Port}", backend.Name, backend.Host, backend.Port);
            }

            db.Offerings.Attach(postgres);
            if (postgres.BackendIds.Count == 0)
            {
                postgres.BackendIds = [backend.Id];
            }
        }

        await db.SaveChangesAsync(ct);
    }

    private AuditEvent SystemEvent(string action, string objectType, Guid objectId, string details) => new()
    {
        At = clock.GetUtcNow(),
        ActorName = "portal-migrator",
        ActorKind = AuditActorKinds.System,
        Action = action,
        ObjectType = objectType,
        ObjectId = objectId.ToString(),
        Outcome = AuditOutcomes.Success,
        Details = details,
    };

    private static void Check(IdentityResult result)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException(string.Join("; ", result.Errors.Select(e => e.Description)));
        }
    }
}
