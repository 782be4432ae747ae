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
using Portal.Domain.Egress;
using Portal.Domain.Teams;
using Portal.Provisioning;

namespace Portal.Migrations;

public sealed class DemoOptions
{
    public bool Enabled { get; set; }

    public string AdminEmail { get; set; } = "admin@portal.local";

    /// <summary>Where the generated admin password is also written (mode 600), so it can be found again.</summary>
    public string? AdminPasswordFile { get; set; }

    public string TeamSlug { get; set; } = "demo";

    public DemoBackendOptions PostgresBackend { get; set; } = new();

    /// <summary>
    /// Further demo backends by kind, as endpoint strings (<c>Host=…;Port=…;AdminUser=…;AdminPassword=…;setting=…</c>,
    /// what the <c>ops/backends/*</c> scripts write). Each is registered as <c>demo-&lt;kind&gt;</c> and
    /// assigned to the offering of that kind.
    /// </summary>
    public Dictionary<string, string> Backends { get; set; } = [];

    /// <summary>
    /// Allow the demo monitoring backend to reach 127.0.0.1 (the demo's apps run on this machine). The tests turn it off
    /// and allow what each of them needs.
    /// </summary>
    public bool AllowLoopbackScrapes { get; set; } = true;
}

public sealed class DemoBackendOptions
{
    public string Name { get; set; } = "demo-postgres";

    public string Host { get; set; } = "127.0.0.1";

    public int Port { get; set; }

    public string AdminUser { get; set; } = "postgres";

    public string? AdminPassword { get; set; }

    /// <summary>The server serves TLS with a certificate from the platform CA (ops/lib/pg.sh pg_enable_tls).</summary>
    public bool Tls { get; set; }
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
        foreach (var offering in CatalogSeed.Offerings)
        {
            await SeedOfferingAsync(db, offering, ct);
        }

        if (demo.Value.Enabled)
        {
            await SeedDemoAsync(db, ct);
        }
    }

    private static async Task SeedOfferingAsync(PortalDbContext db, CatalogSeed.OfferingSeed seed, CancellationToken ct)
    {
        var offering = await db.Offerings.Include(o => o.Plans).FirstOrDefaultAsync(o => o.Key == seed.Key, ct);
        if (offering is null)
        {
            offering = new Offering
            {
                Key = seed.Key, Kind = seed.Kind, Name = seed.Name, Category = seed.Category, Description = seed.Description,
            };
            db.Offerings.Add(offering);
        }

        foreach (var plan in seed.Plans.Where(p => offering.Plans.All(existing => existing.Key != p.Key)))
        {
            // Through the set: a new plan of an existing offering must be inserted, not updated.
            db.Plans.Add(new Plan
            {
                OfferingId = offering.Id,
                Key = plan.Key,
                Name = plan.Name,
                Description = plan.Description,
                MonthlyCost = plan.MonthlyCost,
                Limits = new(plan.Limits),
                MaxLeaseDays = plan.MaxLeaseDays,
            });
        }

        await db.SaveChangesAsync(ct);
    }

    private async Task SeedDemoAsync(PortalDbContext db, CancellationToken ct)
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
            await SeedDemoBackendAsync(db, backendOptions.Name, "postgresql",
                new BackendEndpoint(backendOptions.Host, backendOptions.Port, backendOptions.AdminUser, backendOptions.AdminPassword)
                {
                    Settings = backendOptions.Tls ? new Dictionary<string, string> { ["tls"] = "true" } : new Dictionary<string, string>(),
                }, ct);
        }

        foreach (var (kind, endpoint) in options.Backends.Where(b => !string.IsNullOrWhiteSpace(b.Value)))
        {
            await SeedDemoBackendAsync(db, $"demo-{kind}", kind, BackendEndpoint.Parse(endpoint), ct);
        }

        await db.SaveChangesAsync(ct);
        await SeedDemoEgressAsync(db, ct);
    }

    /// <summary>
    /// The demo's apps run on this machine, so the demo Prometheus may scrape loopback (and its Alertmanager post there):
    /// one allow entry for that backend alone. Team and platform webhooks stay under the default policy.
    /// </summary>
    private async Task SeedDemoEgressAsync(PortalDbContext db, CancellationToken ct)
    {
        var monitoring = await db.Backends.FirstOrDefaultAsync(b => b.Name == "demo-monitoring" && b.Kind == "monitoring", ct);
        const string loopback = "127.0.0.1/32";
        if (!demo.Value.AllowLoopbackScrapes || monitoring is null || await db.EgressAllowList.AnyAsync(e => e.Target == loopback && e.BackendId == monitoring.Id, ct))
        {
            return;
        }

        var entry = new EgressAllowEntry
        {
            Target = loopback, BackendId = monitoring.Id, Note = "Demo: the apps the demo monitors run on this machine.",
            CreatedAt = clock.GetUtcNow(), CreatedBy = "portal-migrator",
        };
        db.EgressAllowList.Add(entry);
        db.AuditEvents.Add(SystemEvent("egress.allowed", "egress-allow-entry", entry.Id, $"{loopback} for backend {monitoring.Name} (demo seed)"));
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Registers the backend (or brings its address and password up to date) and assigns it to the kind's offering.</summary>
    private async Task SeedDemoBackendAsync(PortalDbContext db, string name, string kind, BackendEndpoint endpoint, CancellationToken ct)
    {
        var backend = await db.Backends.FirstOrDefaultAsync(b => b.Name == name, ct);
        if (backend is null)
        {
            backend = new Backend
            {
                Name = name, Kind = kind, Host = endpoint.Host, Port = endpoint.Port, AdminUser = endpoint.AdminUser,
                ProtectedAdminPassword = secrets.Protect(endpoint.AdminPassword), CreatedAt = clock.GetUtcNow(),
            };
            db.Backends.Add(backend);
            db.AuditEvents.Add(SystemEvent("backend.registered", "backend", backend.Id,
                $"{backend.Name}: {backend.Kind} at {backend.Host}:{backend.Port} (demo seed)"));
            logger.LogInformation("Registered the demo backend {Backend} at {Host}:{Port}", backend.Name, backend.Host, backend.Port);
        }
        else if (backend.Kind == kind)
        {
            // The demo servers' ports and passwords are made by ops/portal up; follow them.
            backend.Host = endpoint.Host;
            backend.Port = endpoint.Port;
            backend.AdminUser = endpoint.AdminUser;
            backend.ProtectedAdminPassword = secrets.Protect(endpoint.AdminPassword);
        }

        backend.Settings = new(endpoint.Settings);
        var offering = await db.Offerings.FirstOrDefaultAsync(o => o.Kind == kind, ct);
        if (offering is not null && offering.BackendIds.Count == 0)
        {
            offering.BackendIds = [backend.Id];
        }
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
