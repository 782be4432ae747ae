using System.Globalization;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Portal.Provisioning.Redis;

/// <summary>
/// Serves <c>redis</c> instances on a shared Redis 7 server with ACLs. An instance is the key and channel
/// prefix <c>pi-&lt;id&gt;:</c>; a binding is an ACL user <c>pb-&lt;id&gt;</c> (one more, <c>pb-&lt;id&gt;-g&lt;n&gt;</c>,
/// per credential rotation) that may touch only keys and channels under that prefix and no command that reveals
/// or reaches anything outside it (see <see cref="RedisAcl.CommandRules"/>).
/// </summary>
/// <remarks>
/// <para>
/// A backend with <c>tls=true</c> is reached over TLS only, trusting nothing but the platform CA, and bindings
/// get a <c>rediss://</c> URI and <c>ca.crt</c>. Client certificates are not offered: Redis 7.0 can demand one
/// (<c>tls-auth-clients</c>) but cannot map it to an ACL user, so it would prove nothing about the binding.
/// </para>
/// <para>
/// A prefix has no server-side object, so provisioning records the instance as a disabled ACL user
/// <c>pi-&lt;id&gt;</c> (no password, no commands, patterns naming the prefix). A marker key would not do:
/// it lies inside the prefix, so any binding could delete it, and a server with <c>save ""</c> loses all
/// keys on restart while ACL users persist in the aclfile. <see cref="CheckAsync"/> reports healthy when the
/// server answers and that user exists. Every ACL change is followed by <c>ACL SAVE</c>, so the backend
/// must run with an aclfile (<see cref="TestBackendAsync"/> checks that).
/// </para>
/// <para>
/// Binding users are found by their key pattern (<c>ACL LIST</c>), not through the marker, so a
/// deprovision that crashed half-way still finds what is left. The instance's keys are deleted with
/// SCAN MATCH + UNLINK in batches, never KEYS or FLUSH. Redis has no per-prefix memory or connection limit,
/// so this driver has no plan limits. The admin of the <see cref="BackendEndpoint"/> needs
/// <c>+@all ~* &amp;*</c>.
/// </para>
/// </remarks>
public sealed class RedisDriver : IServiceDriver
{
    private const int ScanPageSize = 1000;
    private const string PasswordKey = "password";

    private readonly ILogger<RedisDriver> _logger;

    /// <summary>Creates the driver.</summary>
    public RedisDriver(ILogger<RedisDriver> logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
    }

    /// <inheritdoc />
    public string Kind => "redis";

    /// <inheritdoc />
    public bool SupportsTls => true;

    /// <inheritdoc />
    public async Task<ProvisionResult> ProvisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var prefix = RedisNames.Prefix(instance.InstanceId);
        var marker = RedisNames.InstanceUser(instance.InstanceId);

        await using var admin = await AdminSession.OpenAsync(instance.Backend, ct);
        instance.Progress.Report($"Recording key prefix {prefix} as disabled ACL user {marker}");
        await admin.AclAsync(ct, ["SETUSER", marker, .. RedisAcl.InstanceUserRules(instance.InstanceId)]);
        await admin.AclAsync(ct, "SAVE");

        _logger.LogInformation("Provisioned Redis prefix {Prefix} on {Backend}", prefix, instance.Backend);
        instance.Progress.Report($"Key prefix {prefix} is ready");
        return new ProvisionResult(new Dictionary<string, string> { ["prefix"] = prefix });
    }

    /// <inheritdoc />
    /// <remarks>
    /// Redis has no plan limits to apply; this re-applies the current ACL rules to the instance's binding
    /// users (passwords untouched), so bindings made by an older driver get rules added since.
    /// </remarks>
    public async Task UpdateAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var prefix = RedisNames.Prefix(instance.InstanceId);

        await using var admin = await AdminSession.OpenAsync(instance.Backend, ct);
        await EnsureProvisionedAsync(admin, instance, ct);
        var users = await admin.BindingUsersOfAsync(instance.InstanceId, ct);
        instance.Progress.Report($"Applying the current ACL rules to {users.Count} binding user(s) of {prefix}");
        foreach (var user in users)
        {
            await admin.AclAsync(ct, ["SETUSER", user, .. RedisAcl.ConvergeRules(instance.InstanceId)]);
        }

        await admin.AclAsync(ct, "SAVE");
        _logger.LogInformation("Updated Redis prefix {Prefix} on {Backend}: rules of {Count} binding users",
            prefix, instance.Backend, users.Count);
    }

    /// <inheritdoc />
    public async Task DeprovisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var prefix = RedisNames.Prefix(instance.InstanceId);
        var marker = RedisNames.InstanceUser(instance.InstanceId);

        await using var admin = await AdminSession.OpenAsync(instance.Backend, ct);

        // Users first: DELUSER also closes their connections, so no binding writes keys while we delete them.
        foreach (var user in await admin.BindingUsersOfAsync(instance.InstanceId, ct))
        {
            instance.Progress.Report($"Deleting ACL user {user}");
            await admin.AclAsync(ct, "DELUSER", user);
        }

        await admin.AclAsync(ct, "SAVE");

        instance.Progress.Report($"Deleting the keys under {prefix}");
        var deleted = await admin.UnlinkAllAsync(RedisNames.Pattern(instance.InstanceId), ct);
        instance.Progress.Report($"Deleted {deleted} key(s) under {prefix}");

        // The marker goes last, so a deprovision that crashed before this point still looks provisioned.
        instance.Progress.Report($"Deleting ACL user {marker}");
        await admin.AclAsync(ct, "DELUSER", marker);
        await admin.AclAsync(ct, "SAVE");

        _logger.LogInformation("Deprovisioned Redis prefix {Prefix} on {Backend} ({Count} keys)",
            prefix, instance.Backend, deleted);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Each generation is an ACL user of its own (<see cref="RedisNames.BindingUser"/>) with the same rules, so a
    /// rotation's new user leaves the old one and its connections alone. A repeated bind of the same generation
    /// replaces that user's password; connections opened with the old one stay open.
    /// </remarks>
    public async Task<BindingCredentials> BindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var backend = instance.Backend;
        var prefix = RedisNames.Prefix(instance.InstanceId);
        var user = RedisNames.BindingUser(binding.BindingId, binding.Generation);
        // A repair re-creating a lost user gives it the password it had (Existing), so the app keeps working.
        var password = binding.ExistingOrNewSecret(PasswordKey);

        await using var admin = await AdminSession.OpenAsync(backend, ct);
        await EnsureProvisionedAsync(admin, instance, ct);

        instance.Progress.Report($"Creating ACL user {user} for key prefix {prefix}");
        await admin.AclAsync(ct,
            ["SETUSER", user, .. RedisAcl.BindingUserRules(instance.InstanceId, RedisAcl.PasswordHash(password))]);
        await admin.AclAsync(ct, "SAVE");
        _logger.LogInformation("Created Redis ACL user {User} for prefix {Prefix} on {Backend}",
            user, prefix, backend);

        var host = backend.Host;
        var port = backend.Port.ToString(CultureInfo.InvariantCulture);
        var uriHost = host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;
        var scheme = backend.Tls ? "rediss" : "redis";
        var credentials = new OrderedDictionary<string, string>
        {
            ["host"] = host,
            ["port"] = port,
            ["username"] = user,
            [PasswordKey] = password,
            ["prefix"] = prefix,
            ["uri"] = $"{scheme}://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@{uriHost}:{port}",
        };
        if (backend.Tls)
        {
            // The only root the app should trust for this server (servicebinding.io key).
            credentials["ca.crt"] = backend.RequireCa().CertificatePem;
        }

        return new BindingCredentials(credentials);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Deletes the generation's ACL user: DELUSER also closes its open connections at once (ACL SETUSER off or a
    /// new password would leave them open). The binding's other generations are other users and keep working.
    /// </remarks>
    public async Task RetireAsync(BindingContext binding, int generation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var user = RedisNames.BindingUser(binding.BindingId, generation);

        await using var admin = await AdminSession.OpenAsync(binding.Instance.Backend, ct);
        binding.Instance.Progress.Report($"Deleting ACL user {user} (credentials generation {generation})");
        await admin.AclAsync(ct, "DELUSER", user);
        // Saved even when the user was already gone: an earlier try may have crashed before its SAVE.
        await admin.AclAsync(ct, "SAVE");
        _logger.LogInformation("Retired Redis ACL user {User} on {Backend}", user, binding.Instance.Backend);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Deletes the ACL users of every generation, found by name (<see cref="RedisNames.IsUserOfBinding"/>) so
    /// that users a crashed rotation left behind go too. DELUSER also closes their open connections.
    /// </remarks>
    public async Task UnbindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);

        await using var admin = await AdminSession.OpenAsync(binding.Instance.Backend, ct);
        var users = (await admin.UsersAsync(ct)).Where(u => RedisNames.IsUserOfBinding(u, binding.BindingId)).ToList();
        foreach (var user in users)
        {
            binding.Instance.Progress.Report($"Deleting ACL user {user}");
            await admin.AclAsync(ct, "DELUSER", user);
        }

        // Saved even when the users were already gone: an earlier try may have crashed before its SAVE.
        await admin.AclAsync(ct, "SAVE");
        _logger.LogInformation("Deleted the {Count} Redis ACL user(s) of binding {Binding} on {Backend}",
            users.Count, binding.BindingId, binding.Instance.Backend);
    }

    /// <inheritdoc />
    public async Task<HealthReport> CheckAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var prefix = RedisNames.Prefix(instance.InstanceId);
        try
        {
            await using var admin = await AdminSession.OpenAsync(instance.Backend, ct);
            if (!await admin.UserExistsAsync(RedisNames.InstanceUser(instance.InstanceId), ct))
            {
                return new HealthReport(false, $"key prefix {prefix} is not provisioned");
            }

            var bindings = await admin.BindingUsersOfAsync(instance.InstanceId, ct);
            return new HealthReport(true, $"key prefix {prefix} is provisioned, {bindings.Count} binding user(s)");
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return new HealthReport(false, $"backend {instance.Backend} not usable: {e.Message}");
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The marker user says whether the instance exists (and must be off); each binding user, found by its key pattern
    /// like <see cref="DeprovisionAsync"/> finds them, is compared with the rules <see cref="BindAsync"/> gives.
    /// </remarks>
    public async Task<Observation> ObserveAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        await using var admin = await AdminSession.OpenAsync(instance.Backend, ct);
        var lines = (await admin.AclListAsync(ct)).ToList();
        var differences = new List<string>();

        var marker = RedisAcl.LineOf(lines, RedisNames.InstanceUser(instance.InstanceId));
        if (marker is not null)
        {
            differences.AddRange(RedisAcl.InstanceUserDrift(marker));
        }

        var users = RedisAcl.BindingUsersOf(lines, instance.InstanceId);
        foreach (var user in users)
        {
            differences.AddRange(RedisAcl.BindingUserDrift(RedisAcl.LineOf(lines, user)!, instance.InstanceId));
        }

        return Observation.Of(marker is not null, differences, users.Select(RedisNames.ParseBindingUser));
    }

    /// <inheritdoc />
    public async Task<HealthReport> TestBackendAsync(BackendEndpoint backend, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(backend);
        try
        {
            await using var admin = await AdminSession.OpenAsync(backend, ct);
            var version = admin.Server.Version;
            var about = backend.Tls ? $"Redis {version} over TLS" : $"Redis {version}";
            if (version.Major < 7)
            {
                return new HealthReport(false, $"{about}: the driver needs Redis 7 or later (ACL subcommand rules).");
            }

            try
            {
                await admin.AclAsync(ct, "LIST");
            }
            catch (RedisServerException e)
            {
                return new HealthReport(false, $"{about}: {backend.AdminUser} cannot manage ACL users ({e.Message}).");
            }

            var aclFile = await admin.ConfigAsync("aclfile", ct);
            if (string.IsNullOrEmpty(aclFile))
            {
                return new HealthReport(false,
                    $"{about}: no aclfile is configured, so ACL SAVE fails and bindings would not survive a restart.");
            }

            return await admin.DefaultUserIsOnAsync(ct)
                ? new HealthReport(true,
                    $"{about}. Warning: the default user is on, so clients reach the server without binding " +
                    "credentials. Run ACL SETUSER default off, then ACL SAVE.")
                : new HealthReport(true, about);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Auth, DNS and network failures are the answer to "test connection", not a crash.
            _logger.LogWarning("Backend test of {Backend} failed: {Error}", backend, e.Message);
            return new HealthReport(false, e.Message);
        }
    }

    private static async Task EnsureProvisionedAsync(AdminSession admin, InstanceContext instance, CancellationToken ct)
    {
        if (!await admin.UserExistsAsync(RedisNames.InstanceUser(instance.InstanceId), ct))
        {
            throw new InvalidOperationException(
                $"Key prefix {RedisNames.Prefix(instance.InstanceId)} is not provisioned on {instance.Backend}; " +
                "provision the instance first.");
        }
    }

    /// <summary>One admin connection for one driver call; admin work is rare, so nothing is kept open.</summary>
    private sealed class AdminSession : IAsyncDisposable
    {
        private readonly ConnectionMultiplexer _connection;

        private AdminSession(ConnectionMultiplexer connection, IServer server)
        {
            _connection = connection;
            Server = server;
        }

        public IServer Server { get; }

        public static async Task<AdminSession> OpenAsync(BackendEndpoint backend, CancellationToken ct)
        {
            var options = new ConfigurationOptions
            {
                EndPoints = { { backend.Host, backend.Port } },
                User = backend.AdminUser,
                Password = backend.AdminPassword,
                ClientName = "portal-provisioning",
                // Fail at once (wrong password, nothing listening) instead of retrying in the background.
                AbortOnConnectFail = true,
                ConnectRetry = 1,
                // StackExchange.Redis sometimes reports a refused connection only when this expires.
                ConnectTimeout = 5_000,
                AsyncTimeout = 30_000,
                AllowAdmin = true,
                BacklogPolicy = BacklogPolicy.FailFast,
            };
            if (backend.Tls)
            {
                // The admin password crosses the wire: verify the server against the platform CA only (the
                // system's roots are not asked), and its name against the host we dialled.
                options.Ssl = true;
                options.SslHost = backend.Host;
                options.CertificateValidation += backend.RequireCa().ServerValidator;
            }
            ct.ThrowIfCancellationRequested();
            var connection = await ConnectionMultiplexer.ConnectAsync(options);
            try
            {
                return new AdminSession(connection, connection.GetServers().Single());
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }

        public async Task<RedisResult> AclAsync(CancellationToken ct, params object[] args)
        {
            ct.ThrowIfCancellationRequested();
            return await Server.ExecuteAsync("ACL", args);
        }

        public async Task<IReadOnlyList<string>> UsersAsync(CancellationToken ct) =>
            ((string?[]?)await AclAsync(ct, "USERS") ?? []).OfType<string>().ToList();

        public async Task<bool> UserExistsAsync(string user, CancellationToken ct) =>
            !(await AclAsync(ct, "GETUSER", user)).IsNull;

        public async Task<bool> DefaultUserIsOnAsync(CancellationToken ct)
        {
            var lines = await AclListAsync(ct);
            return lines.Any(l => l.StartsWith("user default on ", StringComparison.Ordinal));
        }

        public async Task<IReadOnlyList<string>> BindingUsersOfAsync(Guid instanceId, CancellationToken ct) =>
            RedisAcl.BindingUsersOf(await AclListAsync(ct), instanceId);

        public async Task<string?> ConfigAsync(string name, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            var pair = (string?[]?)await Server.ExecuteAsync("CONFIG", "GET", name);
            return pair is [_, var value] ? value : null;
        }

        /// <summary>
        /// Deletes every key matching the glob with SCAN + UNLINK in pages, so the server never blocks on
        /// one huge command. SCAN may return a key twice; UNLINK of a missing key is harmless.
        /// </summary>
        public async Task<long> UnlinkAllAsync(string pattern, CancellationToken ct)
        {
            long deleted = 0;
            var cursor = "0";
            do
            {
                ct.ThrowIfCancellationRequested();
                var page = await Server.ExecuteAsync("SCAN", cursor, "MATCH", pattern, "COUNT", ScanPageSize);
                cursor = (string?)page[0] ?? "0";
                var keys = (RedisKey[]?)page[1] ?? [];
                if (keys.Length > 0)
                {
                    deleted += (long)await Server.ExecuteAsync("UNLINK", keys.Cast<object>().ToArray());
                }
            }
            while (cursor != "0");

            return deleted;
        }

        public async Task<IEnumerable<string>> AclListAsync(CancellationToken ct) =>
            ((string?[]?)await AclAsync(ct, "LIST") ?? []).OfType<string>();

        public async ValueTask DisposeAsync() => await _connection.DisposeAsync();
    }
}
