using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Portal.Provisioning.Postgres;

namespace Portal.Provisioning.Tests;

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
        Assert.Equal(["host", "port", "database", "username", "password", "uri"], v.Keys);
        Assert.Equal(PostgresNames.Database(instance.InstanceId), v["database"]);
        Assert.Equal(PostgresNames.BindingRole(binding.BindingId), v["username"]);
        Assert.Equal(32, v["password"].Length);
        Assert.Equal($"postgresql://{v["username"]}:{v["password"]}@{v["host"]}:{v["port"]}/{v["database"]}", v["uri"]);
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

    private static Task<int> DatConnLimitAsync(InstanceContext instance) =>
        TestBackend.AdminScalarAsync<int>(
            "SELECT datconnlimit FROM pg_database WHERE datname = $1", PostgresNames.Database(instance.InstanceId));
}
