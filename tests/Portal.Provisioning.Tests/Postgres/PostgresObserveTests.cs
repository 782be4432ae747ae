using Npgsql;
using Portal.Provisioning.Postgres;

namespace Portal.Provisioning.Tests.Postgres;

/// <summary>
/// Drift detection and repair against the real PostgreSQL backend: what <see cref="PostgresDriver.ObserveAsync"/> sees
/// after provisioning and after changes made by hand with the admin's SQL, and a repair that re-uses the password.
/// </summary>
public sealed class PostgresObserveTests : BindingObserveTests<PostgresDriver>
{
    protected override IReadOnlyDictionary<string, int> Plan { get; } = new Dictionary<string, int> { ["connections"] = 10 };

    protected override string SecretKey => "password";

    private protected override DriverScope<PostgresDriver> NewScope() => new DriverScope();

    private protected override Task DeleteInstanceByHandAsync(InstanceContext instance) =>
        AdminAsync($"DROP DATABASE \"{PostgresNames.Database(instance.InstanceId)}\" WITH (FORCE)");

    private protected override Task DeleteGenerationByHandAsync(BindingContext binding) =>
        AdminAsync($"DROP ROLE \"{PostgresNames.BindingRole(binding.BindingId, binding.Generation)}\"");

    private protected override async Task AssertCredentialsWorkAsync(BindingCredentials credentials)
    {
        await using var conn = await TestBackend.OpenAsync(credentials);
        await TestBackend.ExecuteAsync(conn, $"CREATE TABLE t_{Guid.NewGuid():N} (v int)");
    }

    private protected override async Task AssertCredentialsRefusedAsync(BindingCredentials credentials) =>
        await Assert.ThrowsAsync<PostgresException>(() => TestBackend.OpenAsync(credentials));

    [Fact]
    public async Task ObserveAsync_ChangedByHand_NamesEachDifference()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var database = PostgresNames.Database(instance.InstanceId);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);
        var binding = DriverScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        var role = PostgresNames.BindingRole(binding.BindingId);
        await AdminAsync(
            $"ALTER DATABASE \"{database}\" CONNECTION LIMIT 3",
            $"GRANT CONNECT ON DATABASE \"{database}\" TO PUBLIC",
            $"ALTER ROLE \"{owner}\" LOGIN",
            $"REVOKE \"{owner}\" FROM \"{role}\"",
            $"ALTER ROLE \"{role}\" RESET role");

        var observation = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.True(observation.Exists);
        Assert.Equal(
        [
            $"the connection limit of database {database} is 3, the plan says 10",
            $"every login may connect to database {database} (CONNECT is granted to PUBLIC)",
            $"the owner role {owner} can log in",
        ], observation.Differences);
        // Neither a member of the owner role nor acting as it: nothing ties the role to the instance any more.
        Assert.Empty(observation.Bindings!);
    }

    [Fact]
    public async Task ObserveAsync_LoginRoleBrokenByHand_ListedWithWhatIsWrong()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);
        var binding = DriverScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        var role = PostgresNames.BindingRole(binding.BindingId);
        await AdminAsync($"REVOKE \"{owner}\" FROM \"{role}\"", $"ALTER ROLE \"{role}\" NOLOGIN");

        var observation = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.Equal(
        [
            $"login role {role} cannot log in",
            $"login role {role} is not a member of {owner}, so it cannot reach the instance's objects",
        ], observation.Differences);
        // Found through its session role: its credentials are still on the backend.
        Assert.Equal([0], observation.Bindings![binding.BindingId]);
    }

    [Fact]
    public async Task ObserveAsync_DatabaseAndOwnerRoleDroppedByHand_LeftoverLoginRolesListed()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);
        await AdminAsync(
            $"DROP DATABASE \"{PostgresNames.Database(instance.InstanceId)}\" WITH (FORCE)",
            $"DROP OWNED BY \"{owner}\"",
            $"DROP ROLE \"{owner}\"");

        var observation = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.False(observation.Exists);
        Assert.False(observation.IsEmpty);
        Assert.Equal([0], observation.Bindings![binding.BindingId]);
        Assert.Contains($"login role {PostgresNames.BindingRole(binding.BindingId)} is not a member of {owner}, so it cannot reach the instance's objects",
            observation.Differences);
    }

    [Fact]
    public async Task ObserveAsync_DatabaseDroppedByHand_OwnerRoleNamedAsLeftOver()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);

        await DeleteInstanceByHandAsync(instance);

        var observation = await scope.Driver.ObserveAsync(instance, Ct);
        Assert.Equal(
            [$"the owner role {PostgresNames.OwnerRole(instance.InstanceId)} is left without its database {PostgresNames.Database(instance.InstanceId)}"],
            observation.Differences);
    }

    [Fact]
    public async Task BindAsync_ExistingPasswordNoDriverMakes_RefusedWithoutEchoingIt()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope.NewBinding(instance) with
        {
            Existing = new Dictionary<string, string> { ["password"] = "x'; DROP ROLE postgres; --" },
        };

        var e = await Assert.ThrowsAsync<ArgumentException>(() => scope.Driver.BindAsync(binding, Ct));

        Assert.DoesNotContain("DROP", e.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await TestBackend.AdminScalarAsync<long>(
            "SELECT count(*) FROM pg_roles WHERE rolname = $1", PostgresNames.BindingRole(binding.BindingId)));
    }

    [Fact]
    public async Task BindAsync_RepairOfCertificateBinding_NewCertificateNoPassword()
    {
        await using var scope = NewScope();
        var instance = scope.NewInstance(Plan, TestBackend.TlsEndpoint);
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = DriverScope.NewBinding(instance, clientCertificate: true);
        var old = await scope.Driver.BindAsync(binding, Ct);
        await DeleteGenerationByHandAsync(binding);

        var repaired = await scope.Driver.BindAsync(binding with { Existing = old.Values }, Ct);

        Assert.False(repaired.Values.ContainsKey("password"));
        await AssertCredentialsWorkAsync(repaired);
        Assert.Equal([0], (await scope.Driver.ObserveAsync(instance, Ct)).Bindings![binding.BindingId]);
    }

    [Fact]
    public async Task ObserveAsync_BackendDown_Throws()
    {
        await using var scope = NewScope();
        var instance = scope.NewInstance(backend: TestBackend.Endpoint with { Host = "127.0.0.1", Port = 1 });

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => scope.Driver.ObserveAsync(instance, Ct));
    }

    private static async Task AdminAsync(params string[] statements)
    {
        await using var admin = await TestBackend.OpenAdminAsync();
        foreach (var sql in statements)
        {
            await TestBackend.ExecuteAsync(admin, sql);
        }
    }
}
