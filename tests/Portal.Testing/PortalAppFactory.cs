using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using System.Globalization;
using Npgsql;
using Portal.Application.Access;
using Portal.Application.Egress;
using Portal.Data;
using Portal.Migrations;
using Xunit;

namespace Portal.Testing;

/// <summary>
/// The real portal (web host, Hangfire server, OIDC server) on a fresh PostgreSQL database of its own,
/// migrated and seeded with the demo: an admin, the demo team, and the PostgreSQL offering on the real
/// backend server. The database is dropped when the factory is disposed.
/// </summary>
public class PortalAppFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public string DatabaseName { get; } = $"portal_test_{Guid.NewGuid():N}";

    public string AdminEmail => "admin@portal.local";

    public string AdminPassword { get; private set; } = "";

    private readonly string _passwordFile = Path.Combine(Path.GetTempPath(), $"portal-admin-{Guid.NewGuid():N}.txt");

    // Warnings and errors, and what Hangfire says about its servers and workers: the tail of JobsReportAsync.
    private readonly LogCapture _recentLogs = new(
        (category, level) => level >= LogLevel.Warning || (category.StartsWith("Hangfire", StringComparison.Ordinal) && level >= LogLevel.Information),
        limit: 300);

    /// <summary>The portal's database: <see cref="DatabaseName"/> on the tests' PostgreSQL server, unless a fixture has its own.</summary>
    public virtual string ConnectionString => new NpgsqlConnectionStringBuilder(TestEnvironment.PortalServer) { Database = DatabaseName }.ConnectionString;

    /// <summary>
    /// Settings a fixture adds for both the migrator and the web host, read while the services are registered (the key
    /// ring certificate, <c>DataProtection:CertificatePath</c>): UseSetting passes them as the host's command line.
    /// </summary>
    protected virtual IEnumerable<KeyValuePair<string, string?>> HostSettings() => [];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseStaticWebAssets();
        builder.UseSetting("ConnectionStrings:Portal", ConnectionString);
        builder.UseSetting("Auth:Issuer", Issuer);
        // Tests run the health check themselves; a scheduled run could mark a backend down mid-test.
        builder.UseSetting("Backends:HealthSchedule", Hangfire.Cron.Never());
        builder.UseSetting("Bindings:RenewalSchedule", Hangfire.Cron.Never());
        // The tests' CA, which issued the test servers' certificates: the portal imports it on first start.
        builder.UseSetting("Ca:CertificateFile", Path.Combine(TestEnvironment.CaDirectory, "ca.crt"));
        builder.UseSetting("Ca:KeyFile", Path.Combine(TestEnvironment.CaDirectory, "ca.key"));
        if (!KeepsSignInLimits)
        {
            // In memory every test client comes from one address; a class signs in service accounts by the dozen.
            builder.UseSetting("Auth:RateLimits:SignInsPerMinute", "100000");
            builder.UseSetting("Auth:RateLimits:TokenRequestsPerMinute", "100000");
        }

        foreach (var (key, value) in HostSettings())
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.AddProvider(_recentLogs));
        builder.ConfigureTestServices(services =>
            // The oidc driver fetches the issuer's discovery document; in memory, that is this test server.
            services.AddHttpClient(Portal.Provisioning.Oidc.OidcDriver.HttpClientName)
                .ConfigurePrimaryHttpMessageHandler(() => Server.CreateHandler()));
    }

    /// <summary>
    /// True for fixtures that test the sign-in and token rate limits: they keep appsettings.json's limits. Others
    /// lift them, since all their clients share one address.
    /// </summary>
    protected virtual bool KeepsSignInLimits => false;

    /// <summary>The issuer of the in-memory test server (the base address of its clients).</summary>
    public const string TestIssuer = "http://localhost/";

    /// <summary>The portal's issuer (Auth:Issuer) and the demo oidc backend's: <see cref="TestIssuer"/> unless a fixture serves HTTPS.</summary>
    protected virtual string Issuer => TestIssuer;

    /// <summary>Endpoint strings of the real servers of other kinds that <c>ops/portal test</c> started, by kind.</summary>
    private IEnumerable<KeyValuePair<string, string?>> OtherBackends() =>
        TestEnvironment.OptionalBackends.Select(b => KeyValuePair.Create($"Demo:Backends:{b.Key}", (string?)b.Value))
            .Append(KeyValuePair.Create("Demo:Backends:oidc", (string?)$"Host=localhost;Port=80;AdminUser=portal;AdminPassword=none;issuer={Issuer}"));

    /// <summary>The settings the migrator seeds the demo with: the admin, the demo team, the real backend.</summary>
    private Dictionary<string, string?> MigratorSettings()
    {
        var backend = TestEnvironment.Backend;
        return new Dictionary<string, string?>()
        {
            ["ConnectionStrings:Portal"] = ConnectionString,
            ["Demo:Enabled"] = "true",
            ["Demo:AdminPasswordFile"] = _passwordFile,
            // No egress exceptions from the demo: a test that needs loopback allows it (AllowEgressAsync).
            ["Demo:AllowLoopbackScrapes"] = "false",
            ["Demo:PostgresBackend:Host"] = backend.Host,
            ["Demo:PostgresBackend:Port"] = backend.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Demo:PostgresBackend:AdminUser"] = backend.Username,
            ["Demo:PostgresBackend:AdminPassword"] = backend.Password,
            ["Demo:PostgresBackend:Tls"] = (backend.SslMode is SslMode.VerifyFull or SslMode.VerifyCA).ToString(),
        }.Concat(OtherBackends()).Concat(HostSettings()).ToDictionary();
    }

    public virtual async ValueTask InitializeAsync()
    {
        await using (var connection = new NpgsqlConnection(TestEnvironment.PortalServer))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{DatabaseName}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        // As in production, the migrator runs before the portal starts (its job server needs the schema).
        await MigratorProgram.RunAsync([], MigratorSettings());
        AdminPassword = (await File.ReadAllTextAsync(_passwordFile)).Trim();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(_passwordFile);
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(TestEnvironment.PortalServer);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{DatabaseName}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// What the portal's jobs are doing, for the message of a test that waited in vain: the latest operations with
    /// their progress, Hangfire's latest jobs, queue entries, servers and locks, and the database's sessions.
    /// </summary>
    public async Task<string> JobsReportAsync()
    {
        var report = new System.Text.StringBuilder();
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionString);
            await connection.OpenAsync();
            (string Title, string Sql)[] queries =
            [
                ("operations", """SELECT "Kind", "State", "Attempts", "JobId", "CreatedAt", "StartedAt", "FinishedAt", "Error" FROM "Operations" ORDER BY "CreatedAt" DESC LIMIT 8"""),
                ("progress", """SELECT l."At", o."Kind", l."Message" FROM "OperationLines" l JOIN "Operations" o ON o."Id" = l."OperationId" ORDER BY l."Id" DESC LIMIT 15"""),
                ("hangfire jobs", "SELECT id, statename, createdat, left(invocationdata::text, 120) FROM hangfire.job ORDER BY id DESC LIMIT 12"),
                ("hangfire job queue", "SELECT jobid, queue, fetchedat FROM hangfire.jobqueue ORDER BY id DESC LIMIT 12"),
                ("hangfire servers", "SELECT id, lastheartbeat, left(data::text, 160) FROM hangfire.server"),
                ("hangfire locks", "SELECT resource, acquired FROM hangfire.lock"),
                ("sessions", "SELECT pid, state, wait_event_type, wait_event, now() - query_start, left(query, 100) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"),
            ];
            foreach (var (title, sql) in queries)
            {
                await AppendRowsAsync(report, connection, title, sql);
            }
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"(the report failed: {e.Message})");
        }

        // The backend PostgreSQL server the demo offering provisions on: who waits there, and on what.
        try
        {
            await using var backend = new NpgsqlConnection(TestEnvironment.Backend.ConnectionString);
            await backend.OpenAsync();
            await AppendRowsAsync(report, backend, "backend PostgreSQL: busy sessions",
                "SELECT pid, datname, usename, state, wait_event_type, wait_event, now() - xact_start, left(query, 100) FROM pg_stat_activity " +
                "WHERE backend_type = 'client backend' AND state <> 'idle' AND pid <> pg_backend_pid()");
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"(the backend report failed: {e.Message})");
        }

        report.AppendLine("-- recent warnings, errors and Hangfire messages");
        foreach (var line in _recentLogs.Lines.TakeLast(40))
        {
            report.AppendLine(line.Length > 600 ? line[..600] : line);
        }

        return report.ToString();
    }

    private static async Task AppendRowsAsync(System.Text.StringBuilder report, NpgsqlConnection connection, string title, string sql)
    {
        report.AppendLine(CultureInfo.InvariantCulture, $"-- {title}");
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var values = new object[reader.FieldCount];
            reader.GetValues(values);
            report.AppendLine(string.Join(" | ", values.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)?.ReplaceLineEndings(" "))));
        }
    }

    /// <summary>Runs a use-case handler as someone, the way a page does.</summary>
    public async Task<T> RunAsync<THandler, T>(Func<THandler, Task<T>> use) where THandler : notnull
    {
        await using var scope = Services.CreateAsyncScope();
        return await use(scope.ServiceProvider.GetRequiredService<THandler>());
    }

    /// <summary>
    /// Adds an egress allow entry as the admin — for tests whose listeners or scrape targets are on loopback, which the
    /// egress policy denies by default. Everywhere unless a site or backend is named; an entry that exists is returned.
    /// </summary>
    public async Task<EgressAllowEntryView> AllowEgressAsync(string target, string? site = null, Guid? backendId = null)
    {
        var admin = await AdminAsync();
        Assert.Null(Portal.Domain.Egress.EgressAllowEntry.NormalizeTarget(target, out var normalized));
        var existing = (await RunAsync<ListEgressAllowListHandler, IReadOnlyList<EgressAllowEntryView>>(h => h.HandleAsync(admin)))
            .FirstOrDefault(e => e.Target == normalized && e.Site == site && e.BackendId == backendId);
        return existing ?? await RunAsync<AddEgressAllowEntryHandler, EgressAllowEntryView>(h =>
            h.HandleAsync(admin, new AddEgressAllowEntry(target, site, backendId, "test")));
    }

    /// <summary>The seeded platform admin as an actor.</summary>
    public async Task<Actor> AdminAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
        var admin = db.Users.Single(u => u.Email == AdminEmail);
        return new Actor(admin.Id, AdminEmail, IsPlatformAdmin: true);
    }
}
