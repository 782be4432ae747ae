using System.Security.Authentication;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.Postgres;

namespace Portal.Provisioning.Tests.Postgres;

/// <summary>Integration tests against the real PostgreSQL backend of <see cref="TestBackend"/>.</summary>
public sealed class PostgresDriverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ProvisionAsync_CalledTwice_IsIdempotent()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        var database = PostgresNames.Database(instance.InstanceId);

        var first = await scope.Driver.ProvisionAsync(instance, Ct);
        var second = await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(database, first.Outputs["database"]);
        Assert.Equal(first.Outputs, second.Outputs);
        Assert.Equal(1L, await TestBackend.AdminScalarAsync<long>(
            "SELECT count(*) FROM pg_database WHERE datname = $1", database));
        Assert.Equal(PostgresNames.OwnerRole(instance.InstanceId), await TestBackend.AdminScalarAsync<string>(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1", database));
        Assert.False(await TestBackend.AdminScalarAsync<bool>(
            "SELECT has_database_privilege('public', $1, 'CONNECT')", database));
        Assert.False(await TestBackend.AdminScalarAsync<bool>(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", PostgresNames.OwnerRole(instance.InstanceId)));
        var progress = ((RecordingProgress)instance.Progress).Lines;
        Assert.Contains(progress, l => l.StartsWith("Creating role", StringComparison.Ordinal));
        Assert.Contains(progress, l => l.StartsWith("Creating database", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProvisionAsync_AfterCrashWithOnlyOwnerRole_CompletesProvisioning()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await using (var admin = await TestBackend.OpenAdminAsync())
        {
            await TestBackend.ExecuteAsync(admin, $"CREATE ROLE \"{PostgresNames.OwnerRole(instance.InstanceId)}\" NOLOGIN");
        }

        await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task ProvisionAsync_PlanConnectionLimit_AppliedToDatabase()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(new Dictionary<string, int> { ["connections"] = 7 });

        await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(7, await DatConnLimitAsync(instance));
    }

    [Fact]
    public async Task ProvisionAsync_NoConnectionLimit_DatabaseUnlimited()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();

        await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(-1, await DatConnLimitAsync(instance));
    }

    [Fact]
    public async Task UpdateAsync_NewConnectionLimit_AppliedToDatabase()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(new Dictionary<string, int> { ["connections"] = 5 });
        await scope.Driver.ProvisionAsync(instance, Ct);

        await scope.Driver.UpdateAsync(instance with { Limits = new Dictionary<string, int> { ["connections"] = 12 } }, Ct);

        Assert.Equal(12, await DatConnLimitAsync(instance));
    }

    [Fact]
    public async Task BindAsync_Credentials_CanCreateTableInsertAndSelect()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = DriverScope.NewBinding(instance);

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        var v = credentials.Values;
        var tls = instance.Backend.Tls;
        Assert.Equal(tls ? ["host", "port", "database", "username", "password", "uri", "ca.crt"] : ["host", "port", "database", "username", "password", "uri"], v.Keys);
        Assert.Equal(PostgresNames.Database(instance.InstanceId), v["database"]);
        Assert.Equal(PostgresNames.BindingRole(binding.BindingId), v["username"]);
        Assert.Equal(32, v["password"].Length);
        Assert.Equal($"postgresql://{v["username"]}:{v["password"]}@{v["host"]}:{v["port"]}/{v["database"]}{(tls ? "?sslmode=verify-full" : "")}", v["uri"]);
        Assert.DoesNotContain(v["password"], credentials.ToString(), StringComparison.Ordinal);

        await using var conn = await TestBackend.OpenAsync(credentials);
        await TestBackend.ExecuteAsync(conn, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)");
        await TestBackend.ExecuteAsync(conn, "INSERT INTO items VALUES (1, 'one'), (2, 'two')");
        Assert.Equal("two", await TestBackend.ScalarAsync<string>(conn, "SELECT name FROM items WHERE id = 2"));
        // Objects belong to the instance's owner role, not to the binding.
        Assert.Equal(PostgresNames.OwnerRole(instance.InstanceId), await TestBackend.ScalarAsync<string>(
            conn, "SELECT tableowner::text FROM pg_tables WHERE tablename = 'items'"));
    }

    [Fact]
    public async Task BindAsync_ConnectToOtherInstanceDatabase_PermissionDenied()
    {
        await using var scope = new DriverScope();
        var mine = scope.NewInstance();
        var other = scope.NewInstance();
        await scope.Driver.ProvisionAsync(mine, Ct);
        await scope.Driver.ProvisionAsync(other, Ct);
        var credentials = await scope.Driver.BindAsync(DriverScope.NewBinding(mine), Ct);

        var e = await Assert.ThrowsAsync<PostgresException>(
            () => TestBackend.OpenAsync(credentials, PostgresNames.Database(other.InstanceId)));

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
    }

    [Fact]
    public async Task BindAsync_SecondBindingOfSameInstance_CanReadAndWriteFirstBindingsTable()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var first = await scope.Driver.BindAsync(DriverScope.NewBinding(instance), Ct);
        var second = await scope.Driver.BindAsync(DriverScope.NewBinding(instance), Ct);
        await using (var conn = await TestBackend.OpenAsync(first))
        {
            await TestBackend.ExecuteAsync(conn, "CREATE TABLE shared (v text)");
            await TestBackend.ExecuteAsync(conn, "INSERT INTO shared VALUES ('from first')");
        }

        await using var other = await TestBackend.OpenAsync(second);
        await TestBackend.ExecuteAsync(other, "INSERT INTO shared VALUES ('from second')");

        Assert.Equal(2L, await TestBackend.ScalarAsync<long>(other, "SELECT count(*) FROM shared"));
        Assert.NotEqual(first.Values["username"], second.Values["username"]);
    }

    [Fact]
    public async Task BindAsync_CalledTwice_RotatesPassword()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = DriverScope.NewBinding(instance);

        var old = await scope.Driver.BindAsync(binding, Ct);
        var fresh = await scope.Driver.BindAsync(binding, Ct);

        Assert.NotEqual(old.Values["password"], fresh.Values["password"]);
        var e = await Assert.ThrowsAsync<PostgresException>(() => TestBackend.OpenAsync(old));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, e.SqlState);
        await using var conn = await TestBackend.OpenAsync(fresh);
        Assert.Equal(1, await TestBackend.ScalarAsync<int>(conn, "SELECT 1"));
    }

    [Fact]
    public async Task BindAsync_InstanceNotProvisioned_ThrowsInvalidOperation()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();

        await Assert.ThrowsAsync<InvalidOperationException>(
            () => scope.Driver.BindAsync(DriverScope.NewBinding(instance), Ct));

        Assert.Equal(0L, await TestBackend.AdminScalarAsync<long>(
            "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", $"%{instance.InstanceId:N}%"));
    }

    [Fact]
    public async Task UnbindAsync_AfterBind_LoginFailsAndOpenSessionTerminated()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = DriverScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        await using var open = await TestBackend.OpenAsync(credentials);
        await TestBackend.ExecuteAsync(open, "CREATE TABLE kept (v int)");

        await scope.Driver.UnbindAsync(binding, Ct);

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => TestBackend.ScalarAsync<int>(open, "SELECT 1"));
        var e = await Assert.ThrowsAsync<PostgresException>(() => TestBackend.OpenAsync(credentials));
        Assert.Contains(e.SqlState, new[] { PostgresErrorCodes.InvalidPassword, PostgresErrorCodes.InvalidAuthorizationSpecification });
        Assert.Equal(0L, await TestBackend.AdminScalarAsync<long>(
            "SELECT count(*) FROM pg_roles WHERE rolname = $1", PostgresNames.BindingRole(binding.BindingId)));
        // The data outlives the binding: it belongs to the instance.
        await using var db = await TestBackend.OpenAdminAsync(PostgresNames.Database(instance.InstanceId));
        Assert.Equal(PostgresNames.OwnerRole(instance.InstanceId), await TestBackend.ScalarAsync<string>(
            db, "SELECT tableowner::text FROM pg_tables WHERE tablename = 'kept'"));
    }

    [Fact]
    public async Task UnbindAsync_BindingOwnsObjects_ReassignedToOwnerAndRoleDropped()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = DriverScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        await using (var conn = await TestBackend.OpenAsync(credentials))
        {
            // Bypass the SET role default so the binding role itself owns something.
            await TestBackend.ExecuteAsync(conn, "RESET ROLE");
            await TestBackend.ExecuteAsync(conn, "CREATE TABLE own_table (v int)");
        }

        await scope.Driver.UnbindAsync(binding, Ct);

        await using var db = await TestBackend.OpenAdminAsync(PostgresNames.Database(instance.InstanceId));
        Assert.Equal(PostgresNames.OwnerRole(instance.InstanceId), await TestBackend.ScalarAsync<string>(
            db, "SELECT tableowner::text FROM pg_tables WHERE tablename = 'own_table'"));
    }

    [Fact]
    public async Task UnbindAsync_CalledTwiceAndAfterDeprovision_Succeeds()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = DriverScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);

        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.Equal(0L, await TestBackend.AdminScalarAsync<long>(
            "SELECT count(*) FROM pg_roles WHERE rolname = $1", PostgresNames.BindingRole(binding.BindingId)));
    }

    [Fact]
    public async Task DeprovisionAsync_WithBindingsAndOpenSession_RemovesDatabaseAndRoles()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var first = DriverScope.NewBinding(instance);
        var second = DriverScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(first, Ct);
        await scope.Driver.BindAsync(second, Ct);
        await using var open = await TestBackend.OpenAsync(credentials);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Equal(0L, await TestBackend.AdminScalarAsync<long>(
            "SELECT count(*) FROM pg_database WHERE datname = $1", PostgresNames.Database(instance.InstanceId)));
        Assert.Equal(0L, await TestBackend.AdminScalarAsync<long>(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY($1)",
            (object)new[]
            {
                PostgresNames.OwnerRole(instance.InstanceId),
                PostgresNames.BindingRole(first.BindingId),
                PostgresNames.BindingRole(second.BindingId),
            }));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => TestBackend.ScalarAsync<int>(open, "SELECT 1"));
        var check = await scope.Driver.CheckAsync(instance, Ct);
        Assert.False(check.Healthy);
    }

    [Fact]
    public async Task DeprovisionAsync_CalledTwice_Succeeds()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        await scope.Driver.BindAsync(DriverScope.NewBinding(instance), Ct);

        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Equal(0L, await TestBackend.AdminScalarAsync<long>(
            "SELECT count(*) FROM pg_roles WHERE rolname = $1", PostgresNames.OwnerRole(instance.InstanceId)));
    }

    [Fact]
    public async Task DeprovisionAsync_NeverProvisioned_Succeeds()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task CheckAsync_Provisioned_ReportsHealthy()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.Contains(PostgresNames.Database(instance.InstanceId), report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_NotProvisioned_ReportsDatabaseDoesNotExist()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.Equal($"database {PostgresNames.Database(instance.InstanceId)} does not exist", report.Message);
    }

    [Fact]
    public async Task TestBackendAsync_AdminCredentials_ReportsHealthyWithVersion()
    {
        var driver = new PostgresDriver(NullLogger<PostgresDriver>.Instance);

        var report = await driver.TestBackendAsync(TestBackend.Endpoint, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.StartsWith("PostgreSQL ", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_DatabaseOpenToEveryLogin_WarnsAndNamesIt()
    {
        var driver = new PostgresDriver(NullLogger<PostgresDriver>.Instance);
        var database = "open_" + Guid.NewGuid().ToString("N")[..12];
        await using var admin = await TestBackend.OpenAdminAsync();
        await TestBackend.ExecuteAsync(admin, $"CREATE DATABASE {database}");
        try
        {
            var report = await driver.TestBackendAsync(TestBackend.Endpoint, Ct);

            // CREATE DATABASE grants CONNECT to PUBLIC, as PostgreSQL does by default.
            Assert.True(report.Healthy, report.Message);
            Assert.Contains("Warning", report.Message, StringComparison.Ordinal);
            Assert.Contains(database, report.Message, StringComparison.Ordinal);
        }
        finally
        {
            await TestBackend.ExecuteAsync(admin, $"DROP DATABASE {database}");
        }
    }

    [Fact]
    public async Task TestBackendAsync_NotSuperuser_ReportsUnhealthy()
    {
        var driver = new PostgresDriver(NullLogger<PostgresDriver>.Instance);
        var role = "plain_" + Guid.NewGuid().ToString("N")[..12];
        var password = SecretGenerator.Password();
        await using var admin = await TestBackend.OpenAdminAsync();
        await TestBackend.ExecuteAsync(admin, $"CREATE ROLE {role} LOGIN PASSWORD '{password}'");
        await TestBackend.ExecuteAsync(admin, $"GRANT CONNECT ON DATABASE postgres TO {role}");
        try
        {
            var report = await driver.TestBackendAsync(TestBackend.Endpoint with { AdminUser = role, AdminPassword = password }, Ct);

            Assert.False(report.Healthy);
            Assert.Contains("not a superuser", report.Message, StringComparison.Ordinal);
        }
        finally
        {
            await TestBackend.ExecuteAsync(admin, $"REVOKE CONNECT ON DATABASE postgres FROM {role}");
            await TestBackend.ExecuteAsync(admin, $"DROP ROLE {role}");
        }
    }

    [Fact]
    public async Task TestBackendAsync_WrongPassword_ReportsUnhealthy()
    {
        var driver = new PostgresDriver(NullLogger<PostgresDriver>.Instance);
        var backend = TestBackend.Endpoint with { AdminPassword = "wrong-" + Guid.NewGuid().ToString("N") };

        var report = await driver.TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("28P01", report.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(backend.AdminPassword, report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_NothingListening_ReportsUnhealthy()
    {
        var driver = new PostgresDriver(NullLogger<PostgresDriver>.Instance);
        var backend = TestBackend.Endpoint with { Host = "127.0.0.1", Port = 1 };

        var report = await driver.TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.False(string.IsNullOrWhiteSpace(report.Message));
    }

    // --- TLS ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task BindAsync_TlsBackend_CredentialsConnectWithVerifyFullTrustingCaCrt()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(backend: TestBackend.TlsEndpoint);
        await scope.Driver.ProvisionAsync(instance, Ct);

        var credentials = await scope.Driver.BindAsync(DriverScope.NewBinding(instance), Ct);

        Assert.Equal(TestBackends.Ca.CertificatePem, credentials.Values["ca.crt"]);
        Assert.EndsWith("?sslmode=verify-full", credentials.Values["uri"], StringComparison.Ordinal);
        await using var conn = await TestBackend.OpenAsync(credentials);
        // As the admin: the session acts as the owner role, which may not see its login role's session details.
        Assert.True(await TestBackend.AdminScalarAsync<bool>("SELECT ssl FROM pg_stat_ssl WHERE pid = $1", conn.ProcessID));
    }

    [Fact]
    public async Task BindAsync_ClientTrustingForeignCa_HandshakeFails()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(backend: TestBackend.TlsEndpoint);
        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(DriverScope.NewBinding(instance), Ct);
        using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));

        var e = await Assert.ThrowsAnyAsync<NpgsqlException>(
            () => TestBackend.OpenAsync(credentials.With(("ca.crt", foreign.CertificatePem))));

        Assert.IsAssignableFrom<AuthenticationException>(e.InnerException);
    }

    [Fact]
    public async Task TestBackendAsync_DriverTrustingForeignCa_ReportsUnhealthy()
    {
        var driver = new PostgresDriver(NullLogger<PostgresDriver>.Instance);
        using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));

        var report = await driver.TestBackendAsync(TestBackend.TlsEndpoint with { PlatformCa = foreign }, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("SSL", report.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task TestBackendAsync_TlsBackend_AdminSessionIsEncrypted()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(backend: TestBackend.TlsEndpoint);

        // ProvisionAsync works through the driver's admin connection, which must then be TLS.
        await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(0L, await TestBackend.AdminScalarAsync<long>(
            "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'portal-provisioning' AND NOT s.ssl"));
    }

    // --- rotation ----------------------------------------------------------------------------------------

    [Fact]
    public async Task RetireAsync_AfterRotation_OldGenerationRefusedAndItsSessionEndedNewKeepsWorking()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(backend: TestBackend.TlsEndpoint);
        await scope.Driver.ProvisionAsync(instance, Ct);
        var gen0 = DriverScope.NewBinding(instance);
        var gen1 = gen0 with { Generation = 1 };
        var old = await scope.Driver.BindAsync(gen0, Ct);
        await using var oldSession = await TestBackend.OpenAsync(old);
        await TestBackend.ExecuteAsync(oldSession, "CREATE TABLE rotated (v text)");

        var fresh = await scope.Driver.BindAsync(gen1, Ct);

        // Overlap: both generations work at once, on the same data.
        Assert.Equal(PostgresNames.BindingRole(gen0.BindingId) + "_g1", fresh.Values["username"]);
        await using (var both = await TestBackend.OpenAsync(old))
        {
            await TestBackend.ExecuteAsync(both, "INSERT INTO rotated VALUES ('gen0')");
        }

        await using (var newSession = await TestBackend.OpenAsync(fresh))
        {
            await TestBackend.ExecuteAsync(newSession, "INSERT INTO rotated VALUES ('gen1')");
        }

        await scope.Driver.RetireAsync(gen1, 0, Ct);

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => TestBackend.ScalarAsync<int>(oldSession, "SELECT 1"));
        var e = await Assert.ThrowsAsync<PostgresException>(() => TestBackend.OpenAsync(old));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, e.SqlState);
        await using (var conn = await TestBackend.OpenAsync(fresh))
        {
            Assert.Equal(2L, await TestBackend.ScalarAsync<long>(conn, "SELECT count(*) FROM rotated"));
        }

        await scope.Driver.RetireAsync(gen1, 0, Ct); // idempotent
        await scope.Driver.UnbindAsync(gen1, Ct);

        await Assert.ThrowsAsync<PostgresException>(() => TestBackend.OpenAsync(fresh));
        Assert.Equal(0L, await CountRolesOfAsync(gen0));
    }

    [Fact]
    public async Task UnbindAsync_SeveralGenerationsAndCrashLeftover_DropsEveryGenerationOnly()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = DriverScope.NewBinding(instance);
        var other = DriverScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);
        await scope.Driver.BindAsync(binding with { Generation = 2 }, Ct);
        var otherCredentials = await scope.Driver.BindAsync(other, Ct);
        await using (var admin = await TestBackend.OpenAdminAsync())
        {
            // A rotation that crashed right after CREATE ROLE, before any membership.
            await TestBackend.ExecuteAsync(admin, $"CREATE ROLE \"{PostgresNames.BindingRole(binding.BindingId, 3)}\" LOGIN");
        }

        Assert.Equal(4L, await CountRolesOfAsync(binding));

        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.Equal(0L, await CountRolesOfAsync(binding));
        await using var conn = await TestBackend.OpenAsync(otherCredentials);
        Assert.Equal(1, await TestBackend.ScalarAsync<int>(conn, "SELECT 1"));
    }

    [Fact]
    public async Task DeprovisionAsync_RotatedBinding_DropsEveryGeneration()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = DriverScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Equal(0L, await CountRolesOfAsync(binding));
    }

    // --- client certificates -----------------------------------------------------------------------------

    [Fact]
    public async Task BindAsync_ClientCertificate_ConnectsWithCertificateAndHasNoPassword()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(backend: TestBackend.TlsEndpoint);
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = DriverScope.NewBinding(instance, clientCertificate: true);

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        var v = credentials.Values;
        Assert.Equal(["host", "port", "database", "username", "uri", "ca.crt", "tls.crt", "tls.key"], v.Keys);
        Assert.Equal($"postgresql://{v["username"]}@{v["host"]}:{v["port"]}/{v["database"]}?sslmode=verify-full", v["uri"]);
        Assert.Equal(v["username"], IssuedCertificate.CommonNameOf(v["tls.crt"]));
        Assert.True(await TestBackend.AdminScalarAsync<bool>(
            "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = $1", v["username"]));
        await using var conn = await TestBackend.OpenAsync(credentials);
        Assert.Equal(v["username"], await TestBackend.ScalarAsync<string>(conn, "SELECT session_user::text"));
        Assert.Equal($"/CN={v["username"]}", await TestBackend.AdminScalarAsync<string>(
            "SELECT client_dn FROM pg_stat_ssl WHERE pid = $1", conn.ProcessID));
        await TestBackend.ExecuteAsync(conn, "CREATE TABLE by_certificate (v int)");
    }

    [Fact]
    public async Task BindAsync_CertificateRoleWithPassword_Refused()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(backend: TestBackend.TlsEndpoint);
        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(DriverScope.NewBinding(instance, clientCertificate: true), Ct);
        var withPassword = credentials.With(("tls.crt", null), ("tls.key", null), ("password", SecretGenerator.Password()));

        // Over TLS the role may only use a certificate; without TLS it would need a password, and it has none.
        var overTls = await Assert.ThrowsAsync<PostgresException>(() => TestBackend.OpenAsync(withPassword));
        var plain = await Assert.ThrowsAsync<PostgresException>(() => TestBackend.OpenAsync(withPassword.With(("ca.crt", null))));

        Assert.Equal(PostgresErrorCodes.InvalidAuthorizationSpecification, overTls.SqlState);
        Assert.Equal(PostgresErrorCodes.InvalidPassword, plain.SqlState);
    }

    [Fact]
    public async Task BindAsync_CertificateOfAnotherBinding_Refused()
    {
        await using var scope = new DriverScope();
        var mine = scope.NewInstance(backend: TestBackend.TlsEndpoint);
        var theirs = scope.NewInstance(backend: TestBackend.TlsEndpoint);
        await scope.Driver.ProvisionAsync(mine, Ct);
        await scope.Driver.ProvisionAsync(theirs, Ct);
        var a = await scope.Driver.BindAsync(DriverScope.NewBinding(mine, clientCertificate: true), Ct);
        var b = await scope.Driver.BindAsync(DriverScope.NewBinding(theirs, clientCertificate: true), Ct);

        // A's certificate presented as B's role, to B's database.
        var e = await Assert.ThrowsAsync<PostgresException>(() => TestBackend.OpenAsync(
            a.With(("username", b.Values["username"]), ("database", b.Values["database"]))));

        Assert.Equal(PostgresErrorCodes.InvalidAuthorizationSpecification, e.SqlState);
        await using var own = await TestBackend.OpenAsync(b);
    }

    [Fact]
    public async Task UnbindAsync_ClientCertificate_CertificateRefusedAndSessionEnded()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(backend: TestBackend.TlsEndpoint);
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = DriverScope.NewBinding(instance, clientCertificate: true);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        await using var open = await TestBackend.OpenAsync(credentials);

        await scope.Driver.UnbindAsync(binding, Ct);

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => TestBackend.ScalarAsync<int>(open, "SELECT 1"));
        // The certificate is still valid, but no role answers to its name any more (and none ever had a password).
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => TestBackend.OpenAsync(credentials));
        await Assert.ThrowsAnyAsync<NpgsqlException>(
            () => TestBackend.OpenAsync(credentials.With(("password", SecretGenerator.Password()))));
        Assert.Equal(0L, await CountRolesOfAsync(binding));
    }

    [Fact]
    public async Task RetireAsync_ClientCertificateRotation_OldCertificateRefusedNewWorks()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(backend: TestBackend.TlsEndpoint);
        await scope.Driver.ProvisionAsync(instance, Ct);
        var gen0 = DriverScope.NewBinding(instance, clientCertificate: true);
        var gen1 = gen0 with { Generation = 1 };
        var old = await scope.Driver.BindAsync(gen0, Ct);
        var fresh = await scope.Driver.BindAsync(gen1, Ct);
        await using (await TestBackend.OpenAsync(old))
        await using (await TestBackend.OpenAsync(fresh))
        {
        }

        await scope.Driver.RetireAsync(gen1, 0, Ct);

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => TestBackend.OpenAsync(old));
        // Nor may the old certificate pass as the new generation's role.
        var e = await Assert.ThrowsAsync<PostgresException>(
            () => TestBackend.OpenAsync(old.With(("username", fresh.Values["username"]))));
        Assert.Equal(PostgresErrorCodes.InvalidAuthorizationSpecification, e.SqlState);
        await using var conn = await TestBackend.OpenAsync(fresh);
        Assert.Equal(1, await TestBackend.ScalarAsync<int>(conn, "SELECT 1"));
    }

    [Fact]
    public async Task BindAsync_CertificateFromForeignCa_Refused()
    {
        await using var scope = new DriverScope();
        var instance = scope.NewInstance(backend: TestBackend.TlsEndpoint);
        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(DriverScope.NewBinding(instance, clientCertificate: true), Ct);
        using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));
        var forged = foreign.IssueClient(credentials.Values["username"], TimeSpan.FromHours(1));

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => TestBackend.OpenAsync(
            credentials.With(("tls.crt", forged.CertificatePem), ("tls.key", forged.PrivateKeyPem))));

        await using var genuine = await TestBackend.OpenAsync(credentials);
    }

    [Fact]
    public async Task BindAsync_ClientCertificateOnBackendWithoutTls_ThrowsInvalidOperation()
    {
        await using var scope = new DriverScope();
        var plain = TestBackend.Endpoint with { Settings = new Dictionary<string, string>() };
        var instance = scope.NewInstance(backend: plain);
        await scope.Driver.ProvisionAsync(instance, Ct);

        await Assert.ThrowsAsync<InvalidOperationException>(
            () => scope.Driver.BindAsync(DriverScope.NewBinding(instance, clientCertificate: true), Ct));
    }

    private static Task<long> CountRolesOfAsync(BindingContext binding) =>
        TestBackend.AdminScalarAsync<long>(
            "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1)", PostgresNames.BindingRole(binding.BindingId));

    private static Task<int> DatConnLimitAsync(InstanceContext instance) =>
        TestBackend.AdminScalarAsync<int>(
            "SELECT datconnlimit FROM pg_database WHERE datname = $1", PostgresNames.Database(instance.InstanceId));
}
