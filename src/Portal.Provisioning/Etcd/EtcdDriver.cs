using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Portal.Provisioning.Etcd;

/// <summary>
/// Serves <c>etcd</c> instances: one key prefix per instance (<see cref="EtcdNames.KeyPrefix"/>) with a role
/// that may read and write exactly that prefix range, and one etcd user per binding holding that role. The
/// admin of the <see cref="BackendEndpoint"/> must hold etcd's <c>root</c> role, and the cluster must have
/// authentication enabled, or every client could read every prefix. etcd has no per-prefix quota, so plans
/// have no limits here.
/// </summary>
/// <remarks>
/// <para>
/// Each generation of a binding's credentials is its own etcd user (<see cref="EtcdNames.BindingUser"/>), so a
/// rotation's new generation and the old one work side by side until the old one is retired. Retiring or unbinding
/// deletes users, which kills their tokens at once; a watch stream opened before that keeps receiving the prefix's
/// events until it reconnects (etcd checks watch permissions only at creation).
/// </para>
/// <para>
/// A TLS backend (<see cref="BackendEndpoint.Tls"/>) runs with <c>--client-cert-auth</c>: no client connects without a
/// certificate from the platform CA. Every binding then gets one whose Common Name is its generation's user (etcd takes
/// the CN as the user when no token is sent) besides its password, and the driver talks gRPC with a certificate of its
/// own (<see cref="EtcdTlsChannels"/>).
/// </para>
/// </remarks>
public sealed class EtcdDriver : IServiceDriver, IDisposable
{
    /// <summary>Name of the <see cref="HttpClient"/> the driver asks <see cref="IHttpClientFactory"/> for.</summary>
    public const string HttpClientName = "etcd";

    /// <summary>Backend setting: further client URLs of the cluster, comma-separated.</summary>
    public const string EndpointsSetting = "endpoints";

    private const string ReadWrite = "READWRITE";
    private const string RootRole = "root";
    private const string PasswordKey = "password";

    private readonly IHttpClientFactory _httpClientFactory;
    private readonly ILogger<EtcdDriver> _logger;
    private readonly EtcdTlsChannels _tlsChannels = new();

    /// <summary>Creates the driver.</summary>
    public EtcdDriver(IHttpClientFactory httpClientFactory, ILogger<EtcdDriver> logger)
    {
        ArgumentNullException.ThrowIfNull(httpClientFactory);
        ArgumentNullException.ThrowIfNull(logger);
        _httpClientFactory = httpClientFactory;
        _logger = logger;
    }

    /// <inheritdoc />
    public string Kind => "etcd";

    /// <inheritdoc />
    public bool SupportsClientCertificates => true;

    /// <inheritdoc />
    public bool SupportsTls => true;

    /// <summary>How many keys one range read returns while deprovisioning (small in tests, to cover paging).</summary>
    internal int KeyPageSize { get; init; } = 1000;

    /// <inheritdoc />
    public IReadOnlyList<DriverField> BackendSettings { get; } =
    [
        new(EndpointsSetting, "Further endpoints",
            "Client URLs of the cluster's other members, comma-separated (e.g. http://10.0.0.2:2379,http://10.0.0.3:2379). " +
            "The portal tries them in turn when Host:Port does not answer, and bindings receive them all."),
    ];

    /// <inheritdoc />
    public async Task<ProvisionResult> ProvisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var prefix = EtcdNames.KeyPrefix(instance.InstanceId);
        var role = EtcdNames.Role(instance.InstanceId);
        var etcd = await SignInAsync(instance.Backend, ct);

        instance.Progress.Report($"Creating role {role}");
        try
        {
            await etcd.CallAsync("auth/role/add", new { name = role }, ct);
        }
        catch (EtcdException e) when (e.IsAlreadyExists)
        {
            // An earlier (crashed or concurrent) try made it; the grants below converge it.
        }

        instance.Progress.Report($"Granting role {role} read/write on {prefix}");
        var key = EtcdGateway.Key(prefix);
        var rangeEnd = EtcdGateway.Key(EtcdNames.PrefixRangeEnd(prefix));
        // Granting the same range again overwrites it, so this is safe to repeat.
        await etcd.CallAsync("auth/role/grant",
            new { name = role, perm = new { permType = ReadWrite, key, range_end = rangeEnd } }, ct);

        // The role must reach nothing else: drop any other permission found on it.
        var found = await etcd.CallAsync("auth/role/get", new { role }, ct);
        foreach (var perm in Permissions(found).Where(p => !p.Is(ReadWrite, key, rangeEnd)))
        {
            instance.Progress.Report($"Revoking a stray permission of role {role}");
            try
            {
                await etcd.CallAsync("auth/role/revoke", new { role, key = perm.Key, range_end = perm.RangeEnd }, ct);
            }
            catch (EtcdException e) when (e.IsPermissionNotGranted)
            {
            }
        }

        _logger.LogInformation("Provisioned etcd prefix {Prefix} (role {Role}) on {Backend}", prefix, role, instance.Backend);
        instance.Progress.Report($"Key prefix {prefix} is ready");
        return new ProvisionResult(new Dictionary<string, string> { ["prefix"] = prefix, ["role"] = role });
    }

    /// <inheritdoc />
    public Task UpdateAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        // etcd has no per-prefix quota (--quota-backend-bytes is cluster-wide), so a plan has nothing to apply.
        instance.Progress.Report("etcd has no per-prefix limits; nothing to change");
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task DeprovisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var prefix = EtcdNames.KeyPrefix(instance.InstanceId);
        var role = EtcdNames.Role(instance.InstanceId);
        var etcd = await SignInAsync(instance.Backend, ct);

        // Every step finds its targets from the instance id alone, so a retry after a crash at any point
        // finishes the job. The role goes first: that ends every binding's access in one step.
        instance.Progress.Report($"Deleting role {role}");
        await DeleteRoleAsync(etcd, role, ct);

        var users = await etcd.CallAsync("auth/user/list", new { }, ct);
        var usersPrefix = EtcdNames.BindingUsersOf(instance.InstanceId);
        foreach (var user in EtcdGateway.Strings(users, "users").Where(u => u.StartsWith(usersPrefix, StringComparison.Ordinal)))
        {
            instance.Progress.Report($"Deleting user {user}");
            await DeleteUserAsync(etcd, user, ct);
        }

        instance.Progress.Report($"Revoking the leases of the keys under {prefix}");
        await RevokeLeasesOfAsync(etcd, prefix, ct);

        instance.Progress.Report($"Deleting the keys under {prefix}");
        var deleted = await etcd.CallAsync("kv/deleterange",
            new { key = EtcdGateway.Key(prefix), range_end = EtcdGateway.Key(EtcdNames.PrefixRangeEnd(prefix)) }, ct);

        _logger.LogInformation("Deprovisioned etcd prefix {Prefix} on {Backend}: {Keys} keys deleted",
            prefix, instance.Backend, EtcdGateway.Int64(deleted, "deleted"));
    }

    /// <inheritdoc />
    public async Task<BindingCredentials> BindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var prefix = EtcdNames.KeyPrefix(instance.InstanceId);
        var role = EtcdNames.Role(instance.InstanceId);
        var user = EtcdNames.BindingUser(instance.InstanceId, binding.BindingId, binding.Generation);
        if (binding.ClientCertificate && !instance.Backend.Tls)
        {
            throw new InvalidOperationException(
                $"Backend {instance.Backend} does not serve TLS (tls=true), so etcd cannot check a client certificate.");
        }

        // etcd 3.4 requires a password even for a user who signs in by certificate (--no-password came in 3.5). A repair
        // re-creating a lost user gives it the password it had (Existing); its certificate is issued anew.
        var password = binding.ExistingOrNewSecret(PasswordKey);
        var etcd = await SignInAsync(instance.Backend, ct);

        try
        {
            await etcd.CallAsync("auth/role/get", new { role }, ct);
        }
        catch (EtcdException e) when (e.IsNotFound)
        {
            throw new InvalidOperationException(
                $"Role {role} does not exist on {instance.Backend}; provision the instance first.", e);
        }

        instance.Progress.Report($"Creating user {user}");
        try
        {
            await etcd.CallAsync("auth/user/add", new { name = user, password }, ct);
        }
        catch (EtcdException e) when (e.IsAlreadyExists)
        {
            // A re-bind or a retry: a fresh password, which also invalidates the user's tokens.
            await etcd.CallAsync("auth/user/changepw", new { name = user, password }, ct);
        }

        // Granting a role the user already holds is a no-op, so a retry after a crash lands here safely.
        await etcd.CallAsync("auth/user/grant", new { user, role }, ct);
        _logger.LogInformation("Created etcd user {User} for prefix {Prefix} on {Backend}", user, prefix, instance.Backend);

        var urls = EtcdGateway.ClientUrls(instance.Backend);
        var values = new OrderedDictionary<string, string>
        {
            ["endpoints"] = string.Join(',', urls),
            ["host"] = instance.Backend.Host,
            ["port"] = instance.Backend.Port.ToString(CultureInfo.InvariantCulture),
            ["username"] = user,
            [PasswordKey] = password,
            ["prefix"] = prefix,
        };
        if (instance.Backend.Tls)
        {
            // --client-cert-auth lets no client connect without a certificate, so every binding on a TLS backend gets
            // one, whether or not it asked: its CN is the generation's user, which etcd uses when no token is sent.
            var ca = instance.Backend.RequireCa();
            var certificate = ca.IssueClient(user, binding.CertificateValidity);
            values["ca.crt"] = ca.CertificatePem;
            values["tls.crt"] = certificate.CertificatePem;
            values["tls.key"] = certificate.PrivateKeyPem;
            instance.Progress.Report($"Issued a client certificate for {user}, valid until {certificate.NotAfter:u}");
        }

        return new BindingCredentials(values);
    }

    /// <inheritdoc />
    public async Task RetireAsync(BindingContext binding, int generation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var user = EtcdNames.BindingUser(binding.Instance.InstanceId, binding.BindingId, generation);
        var etcd = await SignInAsync(binding.Instance.Backend, ct);

        // Deleting the user ends its tokens, and its certificate (CN = the user) no longer maps to anyone with rights.
        binding.Instance.Progress.Report($"Deleting user {user} (generation {generation})");
        await DeleteUserAsync(etcd, user, ct);
        _logger.LogInformation("Retired etcd user {User} on {Backend}", user, binding.Instance.Backend);
    }

    /// <inheritdoc />
    public async Task UnbindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instanceId = binding.Instance.InstanceId;
        var etcd = await SignInAsync(binding.Instance.Backend, ct);

        // Every generation's user, found by name so that leftovers of a crashed bind or rotation go too. Deleting a
        // user also invalidates its tokens and leaves its certificate without rights, so open clients fail on their
        // next request. etcd checks a watch's permission only when it is created, though: a watch stream opened
        // before this keeps getting the prefix's events until it reconnects, and etcd has no call that ends another
        // client's stream.
        var users = await etcd.CallAsync("auth/user/list", new { }, ct);
        foreach (var user in EtcdGateway.Strings(users, "users").Where(u => EtcdNames.IsUserOfBinding(u, instanceId, binding.BindingId)))
        {
            binding.Instance.Progress.Report($"Deleting user {user}");
            await DeleteUserAsync(etcd, user, ct);
            _logger.LogInformation("Deleted etcd user {User} on {Backend}", user, binding.Instance.Backend);
        }
    }

    /// <inheritdoc />
    public async Task<HealthReport> CheckAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var prefix = EtcdNames.KeyPrefix(instance.InstanceId);
        var role = EtcdNames.Role(instance.InstanceId);
        try
        {
            var etcd = await SignInAsync(instance.Backend, ct);
            var found = await etcd.CallAsync("auth/role/get", new { role }, ct);
            var key = EtcdGateway.Key(prefix);
            var rangeEnd = EtcdGateway.Key(EtcdNames.PrefixRangeEnd(prefix));
            return Permissions(found).Any(p => p.Is(ReadWrite, key, rangeEnd))
                ? new HealthReport(true, $"role {role} grants read/write on {prefix}")
                : new HealthReport(false, $"role {role} lacks read/write on {prefix}");
        }
        catch (EtcdException e) when (e.IsNotFound)
        {
            return new HealthReport(false, $"role {role} does not exist");
        }
        catch (Exception e) when (e is EtcdException or HttpRequestException or FormatException)
        {
            return new HealthReport(false, $"backend {instance.Backend} not usable: {e.Message}");
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The instance's role must grant read/write on exactly its prefix; each binding user (found by name, like
    /// <see cref="DeprovisionAsync"/> finds them, so also users whose role is gone) must hold that role and no other.
    /// </remarks>
    public async Task<Observation> ObserveAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var prefix = EtcdNames.KeyPrefix(instance.InstanceId);
        var role = EtcdNames.Role(instance.InstanceId);
        var key = EtcdGateway.Key(prefix);
        var rangeEnd = EtcdGateway.Key(EtcdNames.PrefixRangeEnd(prefix));
        var etcd = await SignInAsync(instance.Backend, ct);
        var differences = new List<string>();

        var exists = true;
        try
        {
            var permissions = Permissions(await etcd.CallAsync("auth/role/get", new { role }, ct)).ToList();
            if (!permissions.Any(p => p.Is(ReadWrite, key, rangeEnd)))
            {
                differences.Add($"role {role} lacks read/write on {prefix}");
            }

            differences.AddRange(permissions.Where(p => !p.Is(ReadWrite, key, rangeEnd))
                .Select(p => $"role {role} also grants {p.Type} on {p.Describe()}"));
        }
        catch (EtcdException e) when (e.IsNotFound)
        {
            exists = false;
        }

        var listed = EtcdGateway.Strings(await etcd.CallAsync("auth/user/list", new { }, ct), "users")
            .Where(u => EtcdNames.ParseBindingUser(u, instance.InstanceId) is not null)
            .ToList();
        var users = new List<string>();
        foreach (var user in listed)
        {
            List<string> roles;
            try
            {
                roles = EtcdGateway.Strings(await etcd.CallAsync("auth/user/get", new { name = user }, ct), "roles").ToList();
            }
            catch (EtcdException e) when (e.IsNotFound)
            {
                // Deleted since the listing: its credentials are gone.
                continue;
            }

            users.Add(user);
            if (exists && !roles.Contains(role, StringComparer.Ordinal))
            {
                differences.Add($"user {user} does not hold role {role}");
            }

            differences.AddRange(roles.Where(r => r != role).Select(r => $"user {user} also holds role {r}"));
        }

        return Observation.Of(exists, differences, users.Select(u => EtcdNames.ParseBindingUser(u, instance.InstanceId)));
    }

    /// <inheritdoc />
    public async Task<HealthReport> TestBackendAsync(BackendEndpoint backend, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(backend);
        try
        {
            var etcd = await SignInAsync(backend, ct);
            var admin = await etcd.CallAsync("auth/user/get", new { name = backend.AdminUser }, ct);
            if (!EtcdGateway.Strings(admin, "roles").Contains(RootRole, StringComparer.Ordinal))
            {
                return new HealthReport(false,
                    $"{backend.AdminUser} does not hold the root role; the driver needs it to manage users, roles and keys.");
            }

            var status = await etcd.CallAsync("maintenance/status", new { }, ct);
            return new HealthReport(true,
                $"etcd {EtcdGateway.String(status, "version")} at {etcd.CurrentUrl}, authentication enabled" +
                (backend.Tls ? ", TLS with client certificates" : ""));
        }
        catch (EtcdException e) when (e.IsAuthNotEnabled)
        {
            return new HealthReport(false,
                "Authentication is disabled on this etcd: every client may read and write every key, so instance " +
                "prefixes would isolate nothing. Add a root user and run `etcdctl auth enable`.");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Auth, DNS, network and configuration failures are the answer to "test connection", not a crash.
            _logger.LogWarning("Backend test of {Backend} failed: {Error}", backend, e.Message);
            return new HealthReport(false, e.Message);
        }
    }

    /// <summary>Disposes the gRPC channels to TLS backends.</summary>
    public void Dispose() => _tlsChannels.Dispose();

    private Task<EtcdGateway> SignInAsync(BackendEndpoint backend, CancellationToken ct) =>
        EtcdGateway.SignInAsync(_httpClientFactory.CreateClient(HttpClientName), _tlsChannels, backend, ct);

    private static async Task DeleteRoleAsync(EtcdGateway etcd, string role, CancellationToken ct)
    {
        try
        {
            // etcd also takes the role away from every user holding it.
            await etcd.CallAsync("auth/role/delete", new { role }, ct);
        }
        catch (EtcdException e) when (e.IsNotFound)
        {
        }
    }

    private static async Task DeleteUserAsync(EtcdGateway etcd, string user, CancellationToken ct)
    {
        try
        {
            await etcd.CallAsync("auth/user/delete", new { name = user }, ct);
        }
        catch (EtcdException e) when (e.IsNotFound)
        {
        }
    }

    /// <summary>
    /// Revokes the leases the instance's keys are attached to, which would otherwise outlive the instance (leases
    /// belong to no user or prefix). Only leases whose keys all lie under the prefix are revoked: revoking deletes
    /// the lease's keys, and keys of others must stay.
    /// </summary>
    private async Task RevokeLeasesOfAsync(EtcdGateway etcd, string prefix, CancellationToken ct)
    {
        var prefixBytes = System.Text.Encoding.UTF8.GetBytes(prefix);
        var rangeEnd = EtcdGateway.Key(EtcdNames.PrefixRangeEnd(prefix));
        var leases = new HashSet<long>();
        var from = prefixBytes;
        while (true)
        {
            var page = await etcd.CallAsync("kv/range",
                new { key = EtcdGateway.Key(from), range_end = rangeEnd, keys_only = true, limit = KeyPageSize }, ct);
            var kvs = page.TryGetProperty("kvs", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().ToList()
                : [];
            leases.UnionWith(kvs.Select(kv => EtcdGateway.Int64(kv, "lease")).Where(id => id != 0));
            if (kvs.Count == 0 || !page.TryGetProperty("more", out var more) || !more.GetBoolean())
            {
                break;
            }

            // The next page starts right after the last key: that key plus a zero byte.
            from = [.. Convert.FromBase64String(EtcdGateway.String(kvs[^1], "key")), 0];
        }

        foreach (var id in leases)
        {
            var lease = id.ToString(CultureInfo.InvariantCulture);
            try
            {
                var attached = await etcd.CallAsync("lease/timetolive", new { ID = lease, keys = true }, ct);
                if (EtcdGateway.Strings(attached, "keys").All(k => Convert.FromBase64String(k).AsSpan().StartsWith(prefixBytes)))
                {
                    await etcd.CallAsync("lease/revoke", new { ID = lease }, ct);
                }
            }
            catch (EtcdException e) when (e.IsNotFound)
            {
                // Expired or revoked meanwhile.
            }
        }
    }

    private static IEnumerable<Permission> Permissions(JsonElement role) =>
        role.TryGetProperty("perm", out var perms) && perms.ValueKind == JsonValueKind.Array
            ? perms.EnumerateArray().Select(p => new Permission(
                // proto3 JSON omits defaults: no permType means READ (0), no range_end means a single key.
                p.TryGetProperty("permType", out var t) ? t.ToString() : "READ",
                EtcdGateway.String(p, "key"),
                EtcdGateway.String(p, "range_end")))
            : [];

    private sealed record Permission(string Type, string Key, string RangeEnd)
    {
        public bool Is(string type, string key, string rangeEnd) =>
            Type == type && Key == key && RangeEnd == rangeEnd;

        /// <summary>The key or range in words; keys are shown as UTF-8 (the driver's own are ASCII).</summary>
        public string Describe()
        {
            static string Text(string base64) => System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(base64));
            return RangeEnd.Length == 0 ? $"the key {Text(Key)}" : $"the keys from {Text(Key)} to {Text(RangeEnd)}";
        }
    }
}
