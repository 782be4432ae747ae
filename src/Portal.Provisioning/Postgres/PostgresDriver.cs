using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

[assembly: InternalsVisibleTo("Portal.Provisioning.Tests")]

namespace Portal.Provisioning.Postgres;

/// <summary>
/// Serves <c>postgresql</c> instances: one database per instance, owned by a NOLOGIN owner role, and one
/// LOGIN role per binding that is a member of the owner role. The admin of the <see cref="BackendEndpoint"/>
/// is expected to be a superuser of the backend server.
/// </summary>
public sealed class PostgresDriver : IServiceDriver
{
    private const string MaintenanceDatabase = "postgres";
    private const string ConnectionsLimit = "connections";
    private const int ScramIterations = 4096;

    private readonly ILogger<PostgresDriver> _logger;

    /// <summary>Creates the driver.</summary>
    public PostgresDriver(ILogger<PostgresDriver> logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
    }

    /// <inheritdoc />
    public string Kind => "postgresql";

    /// <inheritdoc />
    public IReadOnlyList<DriverField> PlanLimits { get; } =
        [new(ConnectionsLimit, "Connections", "the most sessions the database accepts at once")];

    /// <inheritdoc />
    public async Task<ProvisionResult> ProvisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var database = PostgresNames.Database(instance.InstanceId);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);
        var limit = ConnectionLimit(instance);

        await using var conn = await OpenAsync(instance.Backend, MaintenanceDatabase, ct);

        instance.Progress.Report($"Creating role {owner}");
        if (!await RoleExistsAsync(conn, owner, ct))
        {
            try
            {
                await ExecuteAsync(conn, $"CREATE ROLE {QuoteIdent(owner)} NOLOGIN", ct);
            }
            catch (PostgresException e) when (IsDuplicate(e))
            {
                // A concurrent try created it between our check and CREATE: that is the state we want.
            }
        }

        instance.Progress.Report($"Creating database {database}");
        if (!await DatabaseExistsAsync(conn, database, ct))
        {
            try
            {
                // CREATE DATABASE cannot run in a transaction, hence check-then-create plus the race guard.
                await ExecuteAsync(conn,
                    $"CREATE DATABASE {QuoteIdent(database)} OWNER {QuoteIdent(owner)} CONNECTION LIMIT {limit}", ct);
            }
            catch (PostgresException e) when (IsDuplicate(e))
            {
            }
        }

        // Converge a database that an earlier (crashed or concurrent) try left behind.
        await ExecuteAsync(conn, $"ALTER DATABASE {QuoteIdent(database)} OWNER TO {QuoteIdent(owner)}", ct);
        await ExecuteAsync(conn, $"ALTER DATABASE {QuoteIdent(database)} CONNECTION LIMIT {limit}", ct);

        instance.Progress.Report($"Revoking public access to database {database}");
        await ExecuteAsync(conn, $"REVOKE ALL ON DATABASE {QuoteIdent(database)} FROM PUBLIC", ct);

        _logger.LogInformation("Provisioned PostgreSQL database {Database} on {Backend}", database, instance.Backend);
        instance.Progress.Report($"Database {database} is ready");
        return new ProvisionResult(new Dictionary<string, string> { ["database"] = database });
    }

    /// <inheritdoc />
    public async Task UpdateAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var database = PostgresNames.Database(instance.InstanceId);
        var limit = ConnectionLimit(instance);

        await using var conn = await OpenAsync(instance.Backend, MaintenanceDatabase, ct);
        instance.Progress.Report($"Setting connection limit of database {database} to {limit}");
        await ExecuteAsync(conn, $"ALTER DATABASE {QuoteIdent(database)} CONNECTION LIMIT {limit}", ct);
        _logger.LogInformation("Updated PostgreSQL database {Database} on {Backend}: connection limit {Limit}",
            database, instance.Backend, limit);
    }

    /// <inheritdoc />
    public async Task DeprovisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var database = PostgresNames.Database(instance.InstanceId);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);

        await using var conn = await OpenAsync(instance.Backend, MaintenanceDatabase, ct);

        instance.Progress.Report($"Dropping database {database}");
        await ExecuteAsync(conn, $"DROP DATABASE IF EXISTS {QuoteIdent(database)} WITH (FORCE)", ct);

        // Binding roles are found through their membership in the owner role, so the owner role goes last:
        // a retry after a crash still finds the bindings that are left.
        foreach (var role in await BindingRolesOfAsync(conn, owner, ct))
        {
            instance.Progress.Report($"Dropping login role {role}");
            await DropLoginRoleAsync(conn, instance.Backend, role, owner, database, ct);
        }

        instance.Progress.Report($"Dropping role {owner}");
        if (await RoleExistsAsync(conn, owner, ct))
        {
            // Revokes privileges on shared objects, which would otherwise block DROP ROLE.
            await ExecuteAsync(conn, $"DROP OWNED BY {QuoteIdent(owner)}", ct);
            await ExecuteAsync(conn, $"DROP ROLE IF EXISTS {QuoteIdent(owner)}", ct);
        }

        _logger.LogInformation("Deprovisioned PostgreSQL database {Database} on {Backend}", database, instance.Backend);
    }

    /// <inheritdoc />
    public async Task<BindingCredentials> BindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var database = PostgresNames.Database(instance.InstanceId);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);
        var role = PostgresNames.BindingRole(binding.BindingId);
        var password = SecretGenerator.Password();
        // The server only ever sees the SCRAM verifier, so the password cannot leak into statement logs.
        var verifier = ScramSha256Verifier(password);

        await using var conn = await OpenAsync(instance.Backend, MaintenanceDatabase, ct);
        if (!await DatabaseExistsAsync(conn, database, ct) || !await RoleExistsAsync(conn, owner, ct))
        {
            throw new InvalidOperationException(
                $"Database {database} or role {owner} does not exist on {instance.Backend}; provision the instance first.");
        }

        instance.Progress.Report($"Creating login role {role}");
        try
        {
            await CreateOrAlterLoginAsync(conn, role, owner, verifier, ct);
        }
        catch (PostgresException e) when (IsDuplicate(e))
        {
            // A concurrent try created the role after our existence check; this pass alters it instead.
            await CreateOrAlterLoginAsync(conn, role, owner, verifier, ct);
        }

        _logger.LogInformation("Created PostgreSQL login {Role} for database {Database} on {Backend}",
            role, database, instance.Backend);

        var host = instance.Backend.Host;
        var port = instance.Backend.Port.ToString(CultureInfo.InvariantCulture);
        var uriHost = host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;
        var uri = $"postgresql://{Uri.EscapeDataString(role)}:{Uri.EscapeDataString(password)}@{uriHost}:{port}/{Uri.EscapeDataString(database)}";
        return new BindingCredentials(new OrderedDictionary<string, string>
        {
            ["host"] = host,
            ["port"] = port,
            ["database"] = database,
            ["username"] = role,
            ["password"] = password,
            ["uri"] = uri,
        });
    }

    /// <inheritdoc />
    public async Task UnbindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var database = PostgresNames.Database(instance.InstanceId);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);
        var role = PostgresNames.BindingRole(binding.BindingId);

        await using var conn = await OpenAsync(instance.Backend, MaintenanceDatabase, ct);
        instance.Progress.Report($"Dropping login role {role}");
        await DropLoginRoleAsync(conn, instance.Backend, role, owner, database, ct);
        _logger.LogInformation("Dropped PostgreSQL login {Role} of database {Database} on {Backend}",
            role, database, instance.Backend);
    }

    /// <inheritdoc />
    public async Task<HealthReport> CheckAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var database = PostgresNames.Database(instance.InstanceId);
        try
        {
            await using var conn = await OpenAsync(instance.Backend, MaintenanceDatabase, ct);
            return await DatabaseExistsAsync(conn, database, ct)
                ? new HealthReport(true, $"database {database} exists")
                : new HealthReport(false, $"database {database} does not exist");
        }
        catch (NpgsqlException e)
        {
            return new HealthReport(false, $"backend {instance.Backend} not reachable: {e.Message}");
        }
    }

    /// <inheritdoc />
    public async Task<HealthReport> TestBackendAsync(BackendEndpoint backend, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(backend);
        try
        {
            await using var conn = await OpenAsync(backend, MaintenanceDatabase, ct);
            await using var cmd = new NpgsqlCommand("SELECT version()", conn);
            var version = (string?)await cmd.ExecuteScalarAsync(ct) ?? "connected";
            if (!await IsSuperuserAsync(conn, ct))
            {
                return new HealthReport(false, $"{backend.AdminUser} is not a superuser; the driver needs one. ({version})");
            }

            var open = await DatabasesOpenToPublicAsync(conn, ct);
            return open.Count == 0
                ? new HealthReport(true, version)
                : new HealthReport(true,
                    $"{version}. Warning: every login may connect to {string.Join(", ", open)}; binding logins could open it. " +
                    $"Run REVOKE CONNECT ON DATABASE … FROM PUBLIC for each.");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Auth, DNS, network and TLS failures are the answer to "test connection", not a crash.
            _logger.LogWarning("Backend test of {Backend} failed: {Error}", backend, e.Message);
            return new HealthReport(false, e.Message);
        }
    }

    private static async Task<bool> IsSuperuserAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", conn);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>Databases other than instances' that PUBLIC (so every binding login) may connect to.</summary>
    private static async Task<List<string>> DatabasesOpenToPublicAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        const string sql = """
            SELECT d.datname FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
            WHERE d.datallowconn AND a.grantee = 0 AND a.privilege_type = 'CONNECT' AND d.datname NOT LIKE 'pi\_%'
            ORDER BY 1
            """;
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var names = new List<string>();
        while (await reader.ReadAsync(ct))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private static async Task CreateOrAlterLoginAsync(
        NpgsqlConnection conn, string role, string owner, string verifier, CancellationToken ct)
    {
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (await RoleExistsAsync(conn, role, ct))
        {
            await ExecuteAsync(conn,
                $"ALTER ROLE {QuoteIdent(role)} WITH LOGIN INHERIT PASSWORD {QuoteLiteral(verifier)}", ct);
            await ExecuteAsync(conn, $"GRANT {QuoteIdent(owner)} TO {QuoteIdent(role)}", ct);
        }
        else
        {
            // IN ROLE in the same statement: a role that exists is always findable via the owner's members.
            await ExecuteAsync(conn,
                $"CREATE ROLE {QuoteIdent(role)} WITH LOGIN INHERIT PASSWORD {QuoteLiteral(verifier)} IN ROLE {QuoteIdent(owner)}",
                ct);
        }

        // Sessions act as the owner role, so every object belongs to the instance, not to one binding.
        await ExecuteAsync(conn, $"ALTER ROLE {QuoteIdent(role)} SET role = {QuoteLiteral(owner)}", ct);
        await tx.CommitAsync(ct);
    }

    private static async Task DropLoginRoleAsync(
        NpgsqlConnection conn, BackendEndpoint backend, string role, string owner, string database, CancellationToken ct)
    {
        if (!await RoleExistsAsync(conn, role, ct))
        {
            return;
        }

        // No new sessions first, then end the open ones, so nothing can re-create objects while we clean up.
        await ExecuteAsync(conn, $"ALTER ROLE {QuoteIdent(role)} NOLOGIN", ct);
        await using (var cmd = new NpgsqlCommand(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
            conn))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = role });
            await cmd.ExecuteScalarAsync(ct);
        }

        if (await DatabaseExistsAsync(conn, database, ct))
        {
            try
            {
                await using var db = await OpenAsync(backend, database, ct);
                if (await RoleExistsAsync(db, owner, ct))
                {
                    await ExecuteAsync(db, $"REASSIGN OWNED BY {QuoteIdent(role)} TO {QuoteIdent(owner)}", ct);
                }

                await ExecuteAsync(db, $"DROP OWNED BY {QuoteIdent(role)}", ct);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidCatalogName)
            {
                // The database was dropped meanwhile; nothing of the role is left in it.
            }
        }

        // Also revokes privileges on shared objects (databases), which would otherwise block DROP ROLE.
        await ExecuteAsync(conn, $"DROP OWNED BY {QuoteIdent(role)}", ct);
        await ExecuteAsync(conn, $"DROP ROLE IF EXISTS {QuoteIdent(role)}", ct);
    }

    private static async Task<List<string>> BindingRolesOfAsync(NpgsqlConnection conn, string owner, CancellationToken ct)
    {
        const string sql = """
            SELECT m.rolname
            FROM pg_auth_members am
            JOIN pg_roles m ON m.oid = am.member
            JOIN pg_roles o ON o.oid = am.roleid
            WHERE o.rolname = $1 AND starts_with(m.rolname, $2)
            ORDER BY m.rolname
            """;
        await using var cmd = new NpgsqlCommand(sql, conn);
        cmd.Parameters.Add(new NpgsqlParameter { Value = owner });
        cmd.Parameters.Add(new NpgsqlParameter { Value = PostgresNames.BindingRolePrefix });
        var roles = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            roles.Add(reader.GetString(0));
        }

        return roles;
    }

    private static int ConnectionLimit(InstanceContext instance)
    {
        if (!instance.Limits.TryGetValue(ConnectionsLimit, out var limit))
        {
            return -1;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(limit, -1, $"{nameof(instance.Limits)}[{ConnectionsLimit}]");
        return limit;
    }

    private static async Task<NpgsqlConnection> OpenAsync(BackendEndpoint backend, string database, CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = backend.Host,
            Port = backend.Port,
            Username = backend.AdminUser,
            Password = backend.AdminPassword,
            Database = database,
            // Admin work is rare; unpooled connections leave nothing behind that blocks DROP DATABASE.
            Pooling = false,
            ApplicationName = "portal-provisioning",
            Timeout = 15,
        };
        var conn = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await conn.OpenAsync(ct);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static Task<bool> RoleExistsAsync(NpgsqlConnection conn, string role, CancellationToken ct) =>
        ExistsAsync(conn, "SELECT 1 FROM pg_roles WHERE rolname = $1", role, ct);

    private static Task<bool> DatabaseExistsAsync(NpgsqlConnection conn, string database, CancellationToken ct) =>
        ExistsAsync(conn, "SELECT 1 FROM pg_database WHERE datname = $1", database, ct);

    private static async Task<bool> ExistsAsync(NpgsqlConnection conn, string sql, string name, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        cmd.Parameters.Add(new NpgsqlParameter { Value = name });
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    private static bool IsDuplicate(PostgresException e) =>
        e.SqlState is PostgresErrorCodes.DuplicateObject
            or PostgresErrorCodes.DuplicateDatabase
            or PostgresErrorCodes.UniqueViolation;

    /// <summary>Quotes an SQL identifier (DDL takes no parameters).</summary>
    internal static string QuoteIdent(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('\0'))
        {
            throw new ArgumentException("Identifiers cannot contain NUL.", nameof(name));
        }

        return $"\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
    }

    /// <summary>Quotes an SQL string literal like PostgreSQL's quote_literal (E'' form when it has backslashes).</summary>
    internal static string QuoteLiteral(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Contains('\0'))
        {
            throw new ArgumentException("Literals cannot contain NUL.", nameof(value));
        }

        var quoted = value.Replace("'", "''", StringComparison.Ordinal);
        // E'' with doubled backslashes means the same whatever standard_conforming_strings is set to.
        return value.Contains('\\')
            ? $"E'{quoted.Replace("\\", "\\\\", StringComparison.Ordinal)}'"
            : $"'{quoted}'";
    }

    /// <summary>
    /// Builds the SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677), in the form
    /// <c>SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey</c>. SASLprep is the identity for the
    /// alphanumeric passwords of <see cref="SecretGenerator"/>.
    /// </summary>
    internal static string ScramSha256Verifier(string password, byte[]? salt = null)
    {
        salt ??= RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(
            Encoding.UTF8.GetBytes(password), salt, ScramIterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var storedKey = SHA256.HashData(clientKey);
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return $"SCRAM-SHA-256${ScramIterations}:{Convert.ToBase64String(salt)}" +
            $"${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}";
    }
}
