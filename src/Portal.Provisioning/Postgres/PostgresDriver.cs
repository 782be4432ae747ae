using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using Portal.Provisioning.Certificates;

namespace Portal.Provisioning.Postgres;

/// <summary>
/// Serves <c>postgresql</c> instances: one database per instance, owned by a NOLOGIN owner role, and one
/// LOGIN role per binding generation that is a member of the owner role. The admin of the <see cref="BackendEndpoint"/>
/// is expected to be a superuser of the backend server.
/// </summary>
/// <remarks>
/// On a TLS backend (setting <c>tls=true</c>) every connection is encrypted and the server must present a
/// certificate for its host from the platform CA. A binding with a client certificate gets a login role without a
/// password that is a member of <see cref="CertificateLoginRole"/>: the backend's pg_hba.conf (ops/lib/pg.sh
/// <c>pg_enable_tls</c>) lets such roles in only over TLS with a certificate from the platform CA whose CN is the
/// role's name.
/// </remarks>
public sealed class PostgresDriver : IServiceDriver
{
    private const string MaintenanceDatabase = "postgres";
    private const string ConnectionsLimit = "connections";
    private const int ScramIterations = 4096;
    private const string PasswordKey = "password";

    /// <summary>The backend's group role whose members authenticate with a client certificate (see pg_hba.conf).</summary>
    public const string CertificateLoginRole = "portal_cert_login";

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
    public bool SupportsClientCertificates => true;

    /// <inheritdoc />
    public bool SupportsTls => true;

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
        var backend = instance.Backend;
        var database = PostgresNames.Database(instance.InstanceId);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);
        var role = PostgresNames.BindingRole(binding.BindingId, binding.Generation);
        var withCertificate = binding.ClientCertificate;
        if (withCertificate && !backend.Tls)
        {
            // pg_hba.conf accepts certificates over TLS only; a password-less role would be unusable.
            throw new InvalidOperationException(
                $"Backend {backend} does not serve TLS (setting tls=true), so it cannot take client certificates.");
        }

        var ca = backend.Tls ? backend.RequireCa() : null;
        // A certificate role has no password at all, so the certificate is the only way in. A repair re-creating the
        // role sets the password it had (Existing), so the app's credentials keep working; the certificate is re-issued.
        var password = withCertificate ? null : binding.ExistingOrNewSecret(PasswordKey);
        // The server only ever sees the SCRAM verifier, so the password cannot leak into statement logs.
        var verifier = password is null ? null : ScramSha256Verifier(password);

        await using var conn = await OpenAsync(backend, MaintenanceDatabase, ct);
        if (!await DatabaseExistsAsync(conn, database, ct) || !await RoleExistsAsync(conn, owner, ct))
        {
            throw new InvalidOperationException(
                $"Database {database} or role {owner} does not exist on {backend}; provision the instance first.");
        }

        var certificateGroup = await RoleExistsAsync(conn, CertificateLoginRole, ct);
        if (withCertificate && !certificateGroup)
        {
            throw new InvalidOperationException(
                $"Backend {backend} has no role {CertificateLoginRole}, so its pg_hba.conf does not accept client " +
                "certificates; set it up with ops/lib/pg.sh pg_enable_tls.");
        }

        instance.Progress.Report($"Creating login role {role}");
        try
        {
            await CreateOrAlterLoginAsync(conn, role, owner, verifier, withCertificate, certificateGroup, ct);
        }
        catch (PostgresException e) when (IsDuplicate(e))
        {
            // A concurrent try created the role after our existence check; this pass alters it instead.
            await CreateOrAlterLoginAsync(conn, role, owner, verifier, withCertificate, certificateGroup, ct);
        }

        _logger.LogInformation("Created PostgreSQL login {Role} for database {Database} on {Backend} (certificate: {Certificate})",
            role, database, backend, withCertificate);

        var host = backend.Host;
        var port = backend.Port.ToString(CultureInfo.InvariantCulture);
        var uriHost = host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;
        var userInfo = password is null ? Uri.EscapeDataString(role) : $"{Uri.EscapeDataString(role)}:{Uri.EscapeDataString(password)}";
        // libpq's verify-full: the server's certificate must chain to sslrootcert (ca.crt) and name the host.
        var query = ca is null ? "" : "?sslmode=verify-full";
        var values = new OrderedDictionary<string, string>
        {
            ["host"] = host,
            ["port"] = port,
            ["database"] = database,
            ["username"] = role,
        };
        if (password is not null)
        {
            values[PasswordKey] = password;
        }

        values["uri"] = $"postgresql://{userInfo}@{uriHost}:{port}/{Uri.EscapeDataString(database)}{query}";
        if (ca is not null)
        {
            values["ca.crt"] = ca.CertificatePem;
        }

        if (withCertificate)
        {
            // The server maps the certificate to the role by its CN (pg_hba.conf method cert).
            var certificate = ca!.IssueClient(role, binding.CertificateValidity);
            values["tls.crt"] = certificate.CertificatePem;
            values["tls.key"] = certificate.PrivateKeyPem;
        }

        return new BindingCredentials(values);
    }

    /// <inheritdoc />
    public async Task RetireAsync(BindingContext binding, int generation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var database = PostgresNames.Database(instance.InstanceId);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);
        var role = PostgresNames.BindingRole(binding.BindingId, generation);

        await using var conn = await OpenAsync(instance.Backend, MaintenanceDatabase, ct);
        instance.Progress.Report($"Dropping login role {role} (generation {generation})");
        await DropLoginRoleAsync(conn, instance.Backend, role, owner, database, ct);
        _logger.LogInformation("Dropped PostgreSQL login {Role} (generation {Generation}) of database {Database} on {Backend}",
            role, generation, database, instance.Backend);
    }

    /// <inheritdoc />
    public async Task UnbindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var database = PostgresNames.Database(instance.InstanceId);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);

        await using var conn = await OpenAsync(instance.Backend, MaintenanceDatabase, ct);
        // By name, not by membership: also finds generations a crashed rotation left behind half-made.
        foreach (var role in await GenerationRolesAsync(conn, binding.BindingId, ct))
        {
            instance.Progress.Report($"Dropping login role {role}");
            await DropLoginRoleAsync(conn, instance.Backend, role, owner, database, ct);
            _logger.LogInformation("Dropped PostgreSQL login {Role} of database {Database} on {Backend}",
                role, database, instance.Backend);
        }
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
    /// <remarks>
    /// Compares the database (owner, connection limit, no CONNECT for PUBLIC) and its owner role (NOLOGIN) with what
    /// <see cref="ProvisionAsync"/> makes, and finds the binding login roles by their membership in the owner role or
    /// their session role (which outlives a dropped owner role), so roles left behind by a dropped database count too.
    /// </remarks>
    public async Task<Observation> ObserveAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var database = PostgresNames.Database(instance.InstanceId);
        var owner = PostgresNames.OwnerRole(instance.InstanceId);
        var limit = ConnectionLimit(instance);
        var differences = new List<string>();

        await using var conn = await OpenAsync(instance.Backend, MaintenanceDatabase, ct);
        bool? ownerCanLogin;
        await using (var cmd = new NpgsqlCommand("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", conn))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = owner });
            ownerCanLogin = await cmd.ExecuteScalarAsync(ct) as bool?;
        }

        const string databaseSql = """
            SELECT pg_get_userbyid(datdba)::text, datconnlimit, has_database_privilege('public', oid, 'CONNECT')
            FROM pg_database WHERE datname = $1
            """;
        var exists = false;
        await using (var cmd = new NpgsqlCommand(databaseSql, conn))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = database });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                exists = true;
                var (actualOwner, actualLimit, publicConnect) = (reader.GetString(0), reader.GetInt32(1), reader.GetBoolean(2));
                if (ownerCanLogin is null)
                {
                    differences.Add($"the owner role {owner} is missing");
                }

                if (actualOwner != owner)
                {
                    differences.Add($"database {database} is owned by {actualOwner}, not by {owner}");
                }

                if (actualLimit != limit)
                {
                    differences.Add($"the connection limit of database {database} is {DescribeLimit(actualLimit)}, the plan says {DescribeLimit(limit)}");
                }

                if (publicConnect)
                {
                    differences.Add($"every login may connect to database {database} (CONNECT is granted to PUBLIC)");
                }
            }
            else if (ownerCanLogin is not null)
            {
                differences.Add($"the owner role {owner} is left without its database {database}");
            }
        }

        if (ownerCanLogin is true)
        {
            differences.Add($"the owner role {owner} can log in");
        }

        var bindings = new List<BindingGeneration?>();
        foreach (var role in await LoginRolesOfAsync(conn, owner, ct))
        {
            bindings.Add(PostgresNames.ParseBindingRole(role.Name));
            if (!role.CanLogin)
            {
                differences.Add($"login role {role.Name} cannot log in");
            }

            if (!role.IsMember)
            {
                differences.Add($"login role {role.Name} is not a member of {owner}, so it cannot reach the instance's objects");
            }

            if (!role.ActsAsOwner)
            {
                differences.Add($"login role {role.Name} does not act as {owner}, so objects it creates would not belong to the instance");
            }
        }

        return Observation.Of(exists, differences, bindings);
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
        NpgsqlConnection conn, string role, string owner, string? verifier, bool withCertificate, bool certificateGroupExists,
        CancellationToken ct)
    {
        var passwordClause = verifier is null ? "PASSWORD NULL" : $"PASSWORD {QuoteLiteral(verifier)}";
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (await RoleExistsAsync(conn, role, ct))
        {
            await ExecuteAsync(conn, $"ALTER ROLE {QuoteIdent(role)} WITH LOGIN INHERIT {passwordClause}", ct);
            await ExecuteAsync(conn, $"GRANT {QuoteIdent(owner)} TO {QuoteIdent(role)}", ct);
            if (withCertificate)
            {
                await ExecuteAsync(conn, $"GRANT {QuoteIdent(CertificateLoginRole)} TO {QuoteIdent(role)}", ct);
            }
            else if (certificateGroupExists && await IsMemberAsync(conn, role, CertificateLoginRole, ct))
            {
                // A password role must not be offered certificate authentication by pg_hba.conf.
                await ExecuteAsync(conn, $"REVOKE {QuoteIdent(CertificateLoginRole)} FROM {QuoteIdent(role)}", ct);
            }
        }
        else
        {
            // IN ROLE in the same statement: a role that exists is always findable via the owner's members.
            var groups = withCertificate ? $"{QuoteIdent(owner)}, {QuoteIdent(CertificateLoginRole)}" : QuoteIdent(owner);
            await ExecuteAsync(conn, $"CREATE ROLE {QuoteIdent(role)} WITH LOGIN INHERIT {passwordClause} IN ROLE {groups}", ct);
        }

        // Sessions act as the owner role, so every object belongs to the instance, not to one binding.
        await ExecuteAsync(conn, $"ALTER ROLE {QuoteIdent(role)} SET role = {QuoteLiteral(owner)}", ct);
        await tx.CommitAsync(ct);
    }

    private static Task<bool> IsMemberAsync(NpgsqlConnection conn, string member, string group, CancellationToken ct)
    {
        const string sql = """
            SELECT 1 FROM pg_auth_members am
            JOIN pg_roles m ON m.oid = am.member
            JOIN pg_roles g ON g.oid = am.roleid
            WHERE g.rolname = $1 AND m.rolname = $2
            """;
        return ExistsAsync(conn, sql, [group, member], ct);
    }

    /// <summary>Every generation's login role of a binding that exists: <c>pb_&lt;id&gt;</c> and <c>pb_&lt;id&gt;_g&lt;n&gt;</c>.</summary>
    private static async Task<List<string>> GenerationRolesAsync(NpgsqlConnection conn, Guid bindingId, CancellationToken ct)
    {
        // Binding ids have a fixed length, so the prefix cannot match another binding's roles.
        const string sql = "SELECT rolname FROM pg_roles WHERE rolname = $1 OR starts_with(rolname, $2) ORDER BY rolname";
        var role = PostgresNames.BindingRole(bindingId);
        await using var cmd = new NpgsqlCommand(sql, conn);
        cmd.Parameters.Add(new NpgsqlParameter { Value = role });
        cmd.Parameters.Add(new NpgsqlParameter { Value = role + PostgresNames.GenerationSeparator });
        var roles = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            roles.Add(reader.GetString(0));
        }

        return roles;
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

    /// <summary>
    /// The binding login roles of an instance: named like one, and a member of its owner role or acting as it (the
    /// session role stays set when the owner role is dropped, the membership does not).
    /// </summary>
    private static async Task<List<(string Name, bool CanLogin, bool IsMember, bool ActsAsOwner)>> LoginRolesOfAsync(
        NpgsqlConnection conn, string owner, CancellationToken ct)
    {
        const string sql = """
            SELECT r.rolname, r.rolcanlogin, m.member IS NOT NULL, coalesce(r.rolconfig @> ARRAY['role=' || $1], false) AS acts
            FROM pg_roles r
            LEFT JOIN (SELECT am.member FROM pg_auth_members am JOIN pg_roles o ON o.oid = am.roleid WHERE o.rolname = $1) m
                ON m.member = r.oid
            WHERE starts_with(r.rolname, $2) AND (m.member IS NOT NULL OR coalesce(r.rolconfig @> ARRAY['role=' || $1], false))
            ORDER BY r.rolname
            """;
        await using var cmd = new NpgsqlCommand(sql, conn);
        cmd.Parameters.Add(new NpgsqlParameter { Value = owner });
        cmd.Parameters.Add(new NpgsqlParameter { Value = PostgresNames.BindingRolePrefix });
        var roles = new List<(string, bool, bool, bool)>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            roles.Add((reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3)));
        }

        return roles;
    }

    private static string DescribeLimit(int limit) =>
        limit == -1 ? "unlimited" : limit.ToString(CultureInfo.InvariantCulture);

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
        CertificateAuthority? ca = null;
        if (backend.Tls)
        {
            ca = backend.RequireCa();
            // Encryption is required and the certificate is checked by the platform CA below. Not VerifyFull:
            // Npgsql refuses a custom validation callback with it, and its own check also trusts the system's roots.
            builder.SslMode = SslMode.Require;
        }

        var conn = new NpgsqlConnection(builder.ConnectionString);
        if (ca is not null)
        {
            // Chains to the platform CA only (system roots ignored) and names the host, or the handshake fails.
            conn.SslClientAuthenticationOptionsCallback = options => options.RemoteCertificateValidationCallback = ca.ServerValidator;
        }

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

    private static Task<bool> ExistsAsync(NpgsqlConnection conn, string sql, string name, CancellationToken ct) =>
        ExistsAsync(conn, sql, [name], ct);

    private static async Task<bool> ExistsAsync(NpgsqlConnection conn, string sql, string[] values, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var value in values)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = value });
        }

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
