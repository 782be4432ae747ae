using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Npgsql;
using Portal.Testing;

namespace Portal.Integration.Tests.Ops;

/// <summary>
/// ops/lib/backup.sh end to end: a portal with instances, bindings and audit events, its key ring encrypted with a
/// certificate, is backed up while it runs; its database is then dropped, and the backup restored into a new PostgreSQL
/// cluster and started as a new portal, which must decrypt the old credentials, accept a token issued before the
/// backup, verify the audit chain, and still run its instances on the real backends.
/// </summary>
public sealed class BackupRestoreTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly string _work = Directory.CreateTempSubdirectory("portal-backup-test-").FullName;

    private string Backup => Path.Combine(_work, "backup");

    private string Restored => Path.Combine(_work, "restored");

    /// <summary>The original portal: the demo, with the key ring encrypted by a certificate of its own.</summary>
    private sealed class SourcePortal(string keys) : PortalAppFactory
    {
        protected override IEnumerable<KeyValuePair<string, string?>> HostSettings() => KeyRingSettings(keys);
    }

    /// <summary>The restored portal: the restored cluster's database, the restored certificate; nothing is migrated or seeded.</summary>
    private sealed class RestoredPortal(string data) : PortalAppFactory
    {
        public override string ConnectionString => new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = int.Parse(File.ReadAllText(Path.Combine(data, "portal-pg", "port")).Trim(), System.Globalization.CultureInfo.InvariantCulture),
            Username = "portal",
            Password = File.ReadAllText(Path.Combine(data, "portal-pg", "portal.password")).Trim(),
            Database = "portal",
        }.ConnectionString;

        protected override IEnumerable<KeyValuePair<string, string?>> HostSettings() => KeyRingSettings(Path.Combine(data, "keys"));

        public override ValueTask InitializeAsync() => ValueTask.CompletedTask;
    }

    private static IEnumerable<KeyValuePair<string, string?>> KeyRingSettings(string keys) =>
    [
        KeyValuePair.Create("DataProtection:CertificatePath", (string?)Path.Combine(keys, "dataprotection.pfx")),
        KeyValuePair.Create("DataProtection:CertificatePassword", (string?)File.ReadAllText(Path.Combine(keys, "dataprotection.password")).Trim()),
    ];

    [Fact]
    public async Task BackupAndRestore_IntoANewCluster_CredentialsDecryptBindingsWorkTokensValidateAndTheAuditChainVerifies()
    {
        TestEnvironment.BackendOf("redis");
        var sourceKeys = MakeKeyRingCertificate(Path.Combine(_work, "source-keys"));

        // --- a portal with instances, bindings, a token and audit events
        var source = new SourcePortal(sourceKeys);
        Guid postgresId, redisId, postgresBinding, redisBinding;
        JsonNode postgresCredentials, redisCredentials;
        AuthenticationHeaderValue developerToken, platformToken;
        long eventsBefore;
        try
        {
            await source.InitializeAsync();
            var (dev, teamId) = await source.DemoDeveloperAsync();
            var (platform, _) = await source.PlatformAccountAsync("backup-auditor");
            (postgresId, _) = await dev.RequestReadyAsync(teamId, "postgresql", "small", "orders-db");
            (postgresBinding, postgresCredentials) = await dev.BindReadyAsync(postgresId, "orders-api");
            (redisId, _) = await dev.RequestReadyAsync(teamId, "redis", "shared", "orders-cache");
            (redisBinding, redisCredentials) = await dev.BindReadyAsync(redisId, "orders-api");
            developerToken = dev.Http.DefaultRequestHeaders.Authorization!;
            platformToken = platform.Http.DefaultRequestHeaders.Authorization!;
            eventsBefore = (await platform.GetOkAsync("/api/v1/audit?pageSize=1"))["totalItems"]!.GetValue<long>();
            await AssertKeyRingEncryptedAsync(source.ConnectionString);

            // --- the backup, while the portal runs
            var server = new NpgsqlConnectionStringBuilder(source.ConnectionString);
            var watch = Stopwatch.StartNew();
            var backup = await OpsScripts.BashAsync(
                "source ops/lib/backup.sh; " +
                $"backup_create '{Backup}' '{server.Host}' {server.Port} '{server.Username}' '{server.Password}' '{server.Database}' '{sourceKeys}' '{TestEnvironment.CaDirectory}'",
                TimeSpan.FromMinutes(5));
            Assert.True(backup.ExitCode == 0, $"backup_create: {backup}");
            output.WriteLine($"figures: backup of a portal with {eventsBefore} audit events took {watch.ElapsedMilliseconds} ms, dump {new FileInfo(Path.Combine(Backup, "portal.dump")).Length} bytes");

            var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Backup, "manifest.json"), Ct))!;
            Assert.Equal(server.Database, manifest["database"]!.GetValue<string>());
            Assert.StartsWith("2", manifest["schemaMigration"]!.GetValue<string>());
            Assert.Equal(
                ["ca/ca.crt", "ca/ca.key", "keys/dataprotection.crt", "keys/dataprotection.password", "keys/dataprotection.pfx", "portal.dump"],
                manifest["files"]!.AsArray().Select(f => f!["path"]!.GetValue<string>()));
            using var certificate = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(sourceKeys, "dataprotection.crt"));
            Assert.Equal(certificate.GetCertHashString(HashAlgorithmName.SHA256), manifest["keyRingCertificateSha256"]!.GetValue<string>().Replace(":", "", StringComparison.Ordinal));

            var again = await OpsScripts.BashAsync($"source ops/lib/backup.sh; backup_create '{Backup}' 127.0.0.1 1 x x x '{sourceKeys}' '{TestEnvironment.CaDirectory}'", TimeSpan.FromMinutes(1));
            Assert.True(again.ExitCode != 0 && again.StandardError.Contains("not empty", StringComparison.Ordinal), $"a second backup into the folder: {again}");
        }
        finally
        {
            // The original goes away for good: its database is dropped.
            await source.DisposeAsync();
        }

        // --- a backup that does not match its checksums is refused before anything is made
        var tampered = Path.Combine(_work, "tampered");
        var copy = await OpsScripts.BashAsync($"cp -a '{Backup}' '{tampered}' && printf x >> '{tampered}/keys/dataprotection.pfx'", TimeSpan.FromMinutes(1));
        Assert.True(copy.ExitCode == 0, copy.ToString());
        var refused = await OpsScripts.BashAsync($"source ops/lib/backup.sh; backup_restore '{tampered}' '{_work}/not-restored'", TimeSpan.FromMinutes(1));
        Assert.True(refused.ExitCode != 0 && refused.StandardError.Contains("does not match its checksums", StringComparison.Ordinal), $"a tampered backup: {refused}");
        Assert.False(Directory.Exists(Path.Combine(_work, "not-restored")));

        // --- the restore, into a new cluster and data folder
        var restoreWatch = Stopwatch.StartNew();
        var restore = await OpsScripts.BashAsync($"source ops/lib/backup.sh; backup_restore '{Backup}' '{Restored}'", TimeSpan.FromMinutes(5));
        Assert.True(restore.ExitCode == 0, $"backup_restore: {restore}");
        output.WriteLine($"figures: restore into a new PostgreSQL cluster took {restoreWatch.ElapsedMilliseconds} ms");
        var twice = await OpsScripts.BashAsync($"source ops/lib/backup.sh; backup_restore '{Backup}' '{Restored}'", TimeSpan.FromMinutes(1));
        Assert.True(twice.ExitCode != 0 && twice.StandardError.Contains("not empty", StringComparison.Ordinal), $"a restore into a used data folder: {twice}");

        await using var restored = new RestoredPortal(Restored);
        await restored.InitializeAsync();
        await AssertKeyRingEncryptedAsync(restored.ConnectionString);

        // A token issued before the backup, and the credentials decrypted by the restored key ring.
        var developer = new ApiClient(restored.CreateClient());
        developer.Http.DefaultRequestHeaders.Authorization = developerToken;
        var postgresAfter = (await developer.GetOkAsync($"/api/v1/instances/{postgresId}/bindings/{postgresBinding}/credentials"))["credentials"]!;
        var redisAfter = (await developer.GetOkAsync($"/api/v1/instances/{redisId}/bindings/{redisBinding}/credentials"))["credentials"]!;
        Assert.Equal(postgresCredentials.ToJsonString(), postgresAfter.ToJsonString());
        Assert.Equal(redisCredentials.ToJsonString(), redisAfter.ToJsonString());

        // The bindings still reach their real servers.
        await AppConnections.RoundTripAsync("postgresql", postgresAfter, Ct);
        await AppConnections.RoundTripAsync("redis", redisAfter, Ct);

        // The audit chain as written, and intact.
        var platformApi = new ApiClient(restored.CreateClient());
        platformApi.Http.DefaultRequestHeaders.Authorization = platformToken;
        var (status, verified, _) = await platformApi.SendAsync(HttpMethod.Post, "/api/v1/audit/verify");
        Assert.True(status == HttpStatusCode.OK && verified!["intact"]!.GetValue<bool>(), verified?.ToJsonString());
        Assert.True(verified!["events"]!.GetValue<long>() >= eventsBefore, verified.ToJsonString());

        // The restored portal's jobs work its backends with the stored admin credentials: it removes what the test made.
        await developer.DeleteReadyAsync(postgresId);
        await developer.DeleteReadyAsync(redisId);
    }

    /// <summary>Every key of the Data Protection key ring in the database is encrypted with the certificate.</summary>
    private static async Task AssertKeyRingEncryptedAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("""SELECT "Xml" FROM "DataProtectionKeys" """, connection);
        var keys = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                keys.Add(reader.GetString(0));
            }
        }

        Assert.NotEmpty(keys);
        Assert.All(keys, xml => Assert.Contains("EncryptedXmlDecryptor", xml, StringComparison.Ordinal));
    }

    /// <summary>A key ring certificate as <c>ops/portal up</c> makes one: dataprotection.pfx, its password, the public .crt.</summary>
    private static string MakeKeyRingCertificate(string folder)
    {
        Directory.CreateDirectory(folder);
        using var rsa = RSA.Create(3072);
        var request = new CertificateRequest("CN=Portal Data Protection (test)", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        File.WriteAllText(Path.Combine(folder, "dataprotection.password"), password);
        File.WriteAllBytes(Path.Combine(folder, "dataprotection.pfx"), certificate.Export(X509ContentType.Pfx, password));
        File.WriteAllText(Path.Combine(folder, "dataprotection.crt"), certificate.ExportCertificatePem());
        return folder;
    }

    public ValueTask InitializeAsync()
    {
        // The postgres OS user runs the restored cluster and must traverse the folder (mktemp makes it 700).
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_work, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (Directory.Exists(Path.Combine(Restored, "portal-pg")))
        {
            await OpsScripts.BashAsync($"source ops/lib/pg.sh; pg_cluster_stop '{Restored}/portal-pg'", TimeSpan.FromMinutes(1));
        }

        Directory.Delete(_work, recursive: true);
    }
}
