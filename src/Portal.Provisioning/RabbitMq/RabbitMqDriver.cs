using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Portal.Provisioning.Http;
using static Portal.Provisioning.Http.JsonText;

namespace Portal.Provisioning.RabbitMq;

/// <summary>
/// Serves <c>rabbitmq</c> instances through the management HTTP API: one vhost per instance with the plan's
/// limits as vhost limits, and one user per binding with full permissions on that vhost only and no tags (so
/// no management access). The admin of the <see cref="BackendEndpoint"/> is a management user with the
/// <c>administrator</c> tag; Host and Port are the AMQP listener apps connect to, and the
/// <c>managementUrl</c> setting says where the management API is.
/// </summary>
/// <remarks>
/// With <see cref="BackendEndpoint.Tls"/> the Port is an AMQPS listener, credentials carry an <c>amqps://</c> URI
/// and the platform CA (<c>ca.crt</c>), and an https management API is trusted only through that CA. Every
/// credential generation is its own user (see <see cref="RabbitMqNames"/>). A client certificate's CN is the
/// generation's user: the node logs it in with SASL EXTERNAL (plugin <c>rabbitmq_auth_mechanism_ssl</c>,
/// <c>ssl_cert_login_from = common_name</c>), and the user keeps its password besides. Deleting a user closes its
/// open connections and refuses its certificate from then on, which is how retire and unbind revoke.
/// </remarks>
public sealed class RabbitMqDriver : IServiceDriver
{
    /// <summary>The name of the <see cref="HttpClient"/> the driver asks <see cref="IHttpClientFactory"/> for.</summary>
    public const string HttpClientName = "rabbitmq-management";

    /// <summary>The backend setting holding the management API's base URL, e.g. <c>http://127.0.0.1:15672</c>.</summary>
    public const string ManagementUrlSetting = "managementUrl";

    /// <summary>How long one management API call may take before it fails with a <see cref="TimeoutException"/>.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private const string ConnectionsLimit = "connections";
    private const string QueuesLimit = "queues";
    private const string AdministratorTag = "administrator";
    private const string AmqpProtocol = "amqp";
    private const string AmqpsProtocol = "amqp/ssl";
    private const string PasswordKey = "password";
    private const string FullAccess = ".*";

    // Plan limit name -> RabbitMQ vhost limit name.
    private static readonly (string Plan, string Vhost)[] LimitNames =
    [
        (ConnectionsLimit, "max-connections"),
        (QueuesLimit, "max-queues"),
    ];

    private static readonly string[] PermissionKinds = ["configure", "write", "read"];

    private readonly IHttpClientFactory _httpClientFactory;
    private readonly ILogger<RabbitMqDriver> _logger;

    /// <summary>Creates the driver.</summary>
    public RabbitMqDriver(IHttpClientFactory httpClientFactory, ILogger<RabbitMqDriver> logger)
    {
        ArgumentNullException.ThrowIfNull(httpClientFactory);
        ArgumentNullException.ThrowIfNull(logger);
        _httpClientFactory = httpClientFactory;
        _logger = logger;
    }

    /// <inheritdoc />
    public string Kind => "rabbitmq";

    /// <inheritdoc />
    public bool SupportsClientCertificates => true;

    /// <inheritdoc />
    public bool SupportsTls => true;

    /// <inheritdoc />
    public IReadOnlyList<DriverField> BackendSettings { get; } =
    [
        new(ManagementUrlSetting, "Management URL",
            "Base URL of the node's management HTTP API (plugin rabbitmq_management), e.g. http://127.0.0.1:15672. " +
            "Host and Port are the AMQP listener apps connect to (AMQPS with tls=true; an https management API is " +
            "then trusted through the platform CA only); the admin user needs the administrator tag.",
            Required: true),
    ];

    /// <inheritdoc />
    public IReadOnlyList<DriverField> PlanLimits { get; } =
    [
        new(ConnectionsLimit, "Connections",
            "Most AMQP connections open at once in the instance's vhost (vhost limit max-connections). No value: unlimited."),
        new(QueuesLimit, "Queues",
            "Most queues in the instance's vhost (vhost limit max-queues). No value: unlimited."),
    ];

    /// <inheritdoc />
    public async Task<ProvisionResult> ProvisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);
        var limits = VhostLimits(instance.Limits);
        using var api = Api(instance.Backend);

        instance.Progress.Report($"Creating vhost {vhost}");
        // PUT creates the vhost or updates an existing one's metadata: a retry converges either way.
        await api.PutAsync(["vhosts", vhost], new { description = $"Portal instance {instance.InstanceId}", tags = "portal" }, ct);
        await ApplyLimitsAsync(api, instance, vhost, limits, ct);

        _logger.LogInformation("Provisioned RabbitMQ vhost {Vhost} on {Backend}", vhost, instance.Backend);
        instance.Progress.Report($"Vhost {vhost} is ready");
        return new ProvisionResult(new Dictionary<string, string> { ["vhost"] = vhost });
    }

    /// <inheritdoc />
    public async Task UpdateAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);
        var limits = VhostLimits(instance.Limits);
        using var api = Api(instance.Backend);

        await RequireVhostAsync(api, instance, vhost, ct);
        await ApplyLimitsAsync(api, instance, vhost, limits, ct);
        _logger.LogInformation("Updated RabbitMQ vhost {Vhost} on {Backend}: limits {Limits}",
            vhost, instance.Backend, string.Join(", ", limits.Select(l => $"{l.Name}={l.Value?.ToString(CultureInfo.InvariantCulture) ?? "none"}")));
    }

    /// <inheritdoc />
    public async Task DeprovisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);
        using var api = Api(instance.Backend);

        // Users outlive their vhost, so they are found by name prefix, not through the vhost's permissions:
        // that also finds users left by a crash after the vhost went, or by a bind that crashed before granting.
        foreach (var user in await BindingUsersAsync(api, instance.InstanceId, ct))
        {
            instance.Progress.Report($"Deleting user {user}");
            await api.DeleteAsync(["users", user], ct);
        }

        instance.Progress.Report($"Deleting vhost {vhost}");
        // Closes every connection in the vhost and drops its queues, exchanges, limits and permissions.
        await api.DeleteAsync(["vhosts", vhost], ct);

        _logger.LogInformation("Deprovisioned RabbitMQ vhost {Vhost} on {Backend}", vhost, instance.Backend);
    }

    /// <inheritdoc />
    public async Task<BindingCredentials> BindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var backend = instance.Backend;
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);
        var user = RabbitMqNames.BindingUser(instance.InstanceId, binding.BindingId, binding.Generation);
        if (binding.ClientCertificate && !backend.Tls)
        {
            throw new InvalidOperationException(
                $"Backend {backend} does not serve AMQPS (tls=true), so a client certificate could not be used; bind without one.");
        }

        var ca = backend.Tls ? backend.RequireCa() : null;
        // A repair re-creating a lost user gives it the password it had (Existing), so the app keeps working.
        var password = binding.ExistingOrNewSecret(PasswordKey);
        using var api = Api(backend);

        await RequireVhostAsync(api, instance, vhost, ct);

        instance.Progress.Report($"Creating user {user}");
        // Only the salted hash goes over the wire (RabbitMQ's own format), so the password is in no request or
        // server log. PUT replaces an existing user's hash: calling Bind again rotates the password.
        await api.PutAsync(["users", user], new
        {
            password_hash = PasswordHash(password),
            hashing_algorithm = "rabbit_password_hashing_sha256",
            tags = "",
        }, ct);

        instance.Progress.Report($"Granting user {user} access to vhost {vhost}");
        await api.PutAsync(["permissions", vhost, user], new { configure = FullAccess, write = FullAccess, read = FullAccess }, ct);

        _logger.LogInformation("Created RabbitMQ user {User} (generation {Generation}) for vhost {Vhost} on {Backend}",
            user, binding.Generation, vhost, backend);

        var values = new OrderedDictionary<string, string>
        {
            ["host"] = backend.Host,
            ["port"] = backend.Port.ToString(CultureInfo.InvariantCulture),
            ["vhost"] = vhost,
            ["username"] = user,
            [PasswordKey] = password,
            ["uri"] = AmqpUri(backend.Host, backend.Port, user, password, vhost, backend.Tls),
            ["managementUrl"] = ManagementUrl(backend).ToString().TrimEnd('/'),
        };
        if (ca is not null)
        {
            values["ca.crt"] = ca.CertificatePem;
        }

        if (binding.ClientCertificate)
        {
            // The CN names the user (ssl_cert_login_from = common_name), so the certificate opens exactly what
            // this generation's user may open and dies with it.
            var certificate = ca!.IssueClient(user, binding.CertificateValidity);
            values["tls.crt"] = certificate.CertificatePem;
            values["tls.key"] = certificate.PrivateKeyPem;
            instance.Progress.Report($"Issued a client certificate for user {user}, valid until {certificate.NotAfter:u}");
        }

        return new BindingCredentials(values);
    }

    /// <inheritdoc />
    public async Task RetireAsync(BindingContext binding, int generation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ArgumentOutOfRangeException.ThrowIfNegative(generation);
        var instance = binding.Instance;
        var user = RabbitMqNames.BindingUser(instance.InstanceId, binding.BindingId, generation);
        using var api = Api(instance.Backend);

        instance.Progress.Report($"Deleting user {user} of generation {generation.ToString(CultureInfo.InvariantCulture)}");
        // Closes that user's open connections at once (password or certificate logins alike); the binding's
        // other generations are other users and keep working. Already gone (404) counts as done.
        await api.DeleteAsync(["users", user], ct);
        _logger.LogInformation("Retired RabbitMQ user {User} (generation {Generation}) on {Backend}", user, generation, instance.Backend);
    }

    /// <inheritdoc />
    public async Task UnbindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        using var api = Api(instance.Backend);

        // Every generation, found by name (not by the context's generation), so users of a rotation that
        // crashed half-way go too.
        var users = (await BindingUsersAsync(api, instance.InstanceId, ct))
            .Where(u => RabbitMqNames.IsBindingUser(u, instance.InstanceId, binding.BindingId));
        foreach (var user in users)
        {
            instance.Progress.Report($"Deleting user {user}");
            // Deleting the user closes its open connections at once (CONNECTION_FORCED) and refuses its client
            // certificate from then on; merely revoking its permissions would leave them open and usable.
            await api.DeleteAsync(["users", user], ct);
            _logger.LogInformation("Deleted RabbitMQ user {User} on {Backend}", user, instance.Backend);
        }
    }

    /// <inheritdoc />
    public async Task<HealthReport> CheckAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);
        try
        {
            using var api = Api(instance.Backend);
            var found = await api.GetAsync(["vhosts", vhost], ct);
            if (found is not { } v)
            {
                return new HealthReport(false, $"vhost {vhost} does not exist");
            }

            var down = v.TryGetProperty("cluster_state", out var states) && states.ValueKind == JsonValueKind.Object
                ? states.EnumerateObject().Where(s => s.Value.GetString() != "running").Select(s => $"{s.Name} ({s.Value})").ToList()
                : [];
            return down.Count == 0
                ? new HealthReport(true, $"vhost {vhost} is running")
                : new HealthReport(false, $"vhost {vhost} is not running on {string.Join(", ", down)}");
        }
        catch (Exception e) when (e is (HttpRequestException or TimeoutException or JsonException) && !ct.IsCancellationRequested)
        {
            return new HealthReport(false, $"backend {instance.Backend} not reachable: {e.Message}");
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Compares the vhost's limits with the plan, and each binding user (found by name prefix, so also users a deleted
    /// vhost left behind) with what <see cref="BindAsync"/> makes: no tags, and full permissions on the vhost.
    /// </remarks>
    public async Task<Observation> ObserveAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);
        var wanted = VhostLimits(instance.Limits);
        using var api = Api(instance.Backend);
        var differences = new List<string>();

        var exists = await api.GetAsync(["vhosts", vhost], ct) is not null;
        var permissions = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (exists)
        {
            var actual = new Dictionary<string, int>(StringComparer.Ordinal);
            if (await api.GetAsync(["vhost-limits", vhost], ct) is { ValueKind: JsonValueKind.Array } entries)
            {
                foreach (var limit in entries.EnumerateArray().Where(e => e.TryGetProperty("value", out _))
                             .SelectMany(e => e.GetProperty("value").EnumerateObject()))
                {
                    actual[limit.Name] = limit.Value.GetInt32();
                }
            }

            foreach (var (name, value) in wanted)
            {
                // A limit of -1 is none, as the plan's -1 is.
                int? found = actual.TryGetValue(name, out var n) && n >= 0 ? n : null;
                if (found != value)
                {
                    differences.Add($"limit {name} of vhost {vhost} is {DescribeLimit(found)}, the plan says {DescribeLimit(value)}");
                }
            }

            if (await api.GetAsync(["vhosts", vhost, "permissions"], ct) is { ValueKind: JsonValueKind.Array } granted)
            {
                foreach (var permission in granted.EnumerateArray())
                {
                    permissions[Text(permission, "user")] = permission;
                }
            }
        }

        var users = await BindingUserRecordsAsync(api, instance.InstanceId, ct);
        foreach (var user in users)
        {
            var name = Text(user, "name");
            if (Tags(user) is { Count: > 0 } tags)
            {
                differences.Add($"user {name} has the tags {string.Join(", ", tags)}, so it may use the management API");
            }

            if (!exists)
            {
                continue;
            }

            if (!permissions.TryGetValue(name, out var permission))
            {
                differences.Add($"user {name} has no permissions on vhost {vhost}");
            }
            else if (PermissionKinds.Any(p => Text(permission, p) != FullAccess))
            {
                differences.Add($"user {name} may configure '{Text(permission, "configure")}', write '{Text(permission, "write")}' " +
                    $"and read '{Text(permission, "read")}' on vhost {vhost}, not everything");
            }
        }

        return Observation.Of(exists, differences, users.Select(u => RabbitMqNames.ParseBindingUser(Text(u, "name"), instance.InstanceId)));
    }

    /// <inheritdoc />
    public async Task<HealthReport> TestBackendAsync(BackendEndpoint backend, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(backend);
        try
        {
            using var api = Api(backend);
            var whoami = await api.GetAsync(["whoami"], ct) ?? throw new HttpRequestException("GET /api/whoami answered 404");
            if (!HasTag(whoami, AdministratorTag))
            {
                return new HealthReport(false,
                    $"{backend.AdminUser} lacks the {AdministratorTag} tag; the driver needs it to manage vhosts and users.");
            }

            var overview = await api.GetAsync(["overview"], ct) ?? throw new HttpRequestException("GET /api/overview answered 404");
            var version = $"RabbitMQ {Text(overview, "rabbitmq_version")} on node {Text(overview, "node")}";
            // A TLS backend's Port must be an AMQPS listener: apps get amqps:// URIs for it.
            var protocol = backend.Tls ? AmqpsProtocol : AmqpProtocol;
            var amqpPorts = overview.TryGetProperty("listeners", out var listeners) && listeners.ValueKind == JsonValueKind.Array
                ? listeners.EnumerateArray()
                    .Where(l => Text(l, "protocol") == protocol && l.TryGetProperty("port", out var p) && p.ValueKind == JsonValueKind.Number)
                    .Select(l => l.GetProperty("port").GetInt32())
                    .ToList()
                : [];
            // Apps get Host:Port in their credentials, so a wrong Port would hand out unusable bindings.
            return amqpPorts.Contains(backend.Port)
                ? new HealthReport(true, version)
                : new HealthReport(false,
                    $"{version} has no {(backend.Tls ? "AMQPS" : "AMQP")} listener on port {backend.Port.ToString(CultureInfo.InvariantCulture)} " +
                    $"({(backend.Tls ? "AMQPS" : "AMQP")} ports: {(amqpPorts.Count == 0 ? "none" : string.Join(", ", amqpPorts))}).");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Auth, DNS, network and configuration failures are the answer to "test connection", not a crash.
            _logger.LogWarning("Backend test of {Backend} failed: {Error}", backend, e.Message);
            return new HealthReport(false, e.Message);
        }
    }

    private static async Task ApplyLimitsAsync(
        ManagementApi api, InstanceContext instance, string vhost, IReadOnlyList<(string Name, int? Value)> limits,
        CancellationToken ct)
    {
        foreach (var (name, value) in limits)
        {
            if (value is { } n)
            {
                instance.Progress.Report($"Setting limit {name} of vhost {vhost} to {n.ToString(CultureInfo.InvariantCulture)}");
                await api.PutAsync(["vhost-limits", vhost, name], new { value = n }, ct);
            }
            else
            {
                // A limit the plan no longer has: deleting a limit that is not set is a no-op (204).
                instance.Progress.Report($"Removing limit {name} of vhost {vhost}");
                await api.DeleteAsync(["vhost-limits", vhost, name], ct);
            }
        }
    }

    private static async Task RequireVhostAsync(ManagementApi api, InstanceContext instance, string vhost, CancellationToken ct)
    {
        if (await api.GetAsync(["vhosts", vhost], ct) is null)
        {
            throw new InvalidOperationException(
                $"Vhost {vhost} does not exist on {instance.Backend}; provision the instance first.");
        }
    }

    private static async Task<List<string>> BindingUsersAsync(ManagementApi api, Guid instanceId, CancellationToken ct) =>
        (await BindingUserRecordsAsync(api, instanceId, ct)).Select(u => Text(u, "name")).ToList();

    /// <summary>The users named with the instance's binding user prefix, as GET /api/users shows them, by name.</summary>
    private static async Task<List<JsonElement>> BindingUserRecordsAsync(ManagementApi api, Guid instanceId, CancellationToken ct)
    {
        var prefix = RabbitMqNames.BindingUserPrefix(instanceId);
        var users = await api.GetAsync(["users"], ct);
        if (users is not { ValueKind: JsonValueKind.Array } list)
        {
            throw new HttpRequestException("GET /api/users did not answer with a list of users.");
        }

        return list.EnumerateArray()
            .Where(u => Text(u, "name").StartsWith(prefix, StringComparison.Ordinal))
            .OrderBy(u => Text(u, "name"), StringComparer.Ordinal)
            .ToList();
    }

    private static string DescribeLimit(int? limit) =>
        limit is { } n ? n.ToString(CultureInfo.InvariantCulture) : "unlimited";

    /// <summary>
    /// The vhost limits for a plan's limits, in a fixed order; a null value means "no limit" (the limit is
    /// removed). A plan value of -1 also means no limit.
    /// </summary>
    internal static IReadOnlyList<(string Name, int? Value)> VhostLimits(IReadOnlyDictionary<string, int> planLimits)
    {
        ArgumentNullException.ThrowIfNull(planLimits);
        var result = new List<(string, int?)>();
        foreach (var (plan, vhost) in LimitNames)
        {
            int? value = null;
            if (planLimits.TryGetValue(plan, out var n))
            {
                ArgumentOutOfRangeException.ThrowIfLessThan(n, -1, $"{nameof(InstanceContext.Limits)}[{plan}]");
                value = n == -1 ? null : n;
            }

            result.Add((vhost, value));
        }

        return result;
    }

    /// <summary>
    /// RabbitMQ's <c>rabbit_password_hashing_sha256</c> form: base64(salt + SHA-256(salt + UTF-8 password)) with
    /// a random 4-byte salt, as the management API accepts in <c>password_hash</c>.
    /// </summary>
    internal static string PasswordHash(string password, byte[]? salt = null)
    {
        ArgumentNullException.ThrowIfNull(password);
        salt ??= RandomNumberGenerator.GetBytes(4);
        byte[] salted = [.. salt, .. Encoding.UTF8.GetBytes(password)];
        return Convert.ToBase64String([.. salt, .. SHA256.HashData(salted)]);
    }

    /// <summary>
    /// The AMQP URI of a binding: <c>amqp://user:password@host:port/vhost</c> (<c>amqps://</c> with TLS), each part
    /// URI-escaped.
    /// </summary>
    internal static string AmqpUri(string host, int port, string user, string password, string vhost, bool tls = false)
    {
        var uriHost = host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;
        return $"{(tls ? "amqps" : "amqp")}://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@{uriHost}:" +
            $"{port.ToString(CultureInfo.InvariantCulture)}/{Uri.EscapeDataString(vhost)}";
    }

    /// <summary>The management API URL of one resource; every segment is escaped, so vhost <c>/</c> becomes <c>%2F</c>.</summary>
    internal static Uri ApiUri(Uri managementUrl, params string[] segments) =>
        new(managementUrl, "api/" + string.Join('/', segments.Select(Uri.EscapeDataString)));

    /// <summary>The backend's management URL, normalised to end with a slash.</summary>
    internal static Uri ManagementUrl(BackendEndpoint backend)
    {
        var value = backend.Setting(ManagementUrlSetting)
            ?? throw new InvalidOperationException(
            $"Backend {backend} has no {ManagementUrlSetting} setting (the management API's base URL, e.g. http://127.0.0.1:15672).");
        if (!Uri.TryCreate(value.TrimEnd('/') + "/", UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https")
            || uri.UserInfo.Length > 0)
        {
            throw new InvalidOperationException(
                $"The {ManagementUrlSetting} setting of backend {backend} must be an http(s) URL without credentials.");
        }

        return uri;
    }

    /// <summary>
    /// The management API of a backend, as its admin; an https one of a TLS backend is trusted through the platform CA
    /// only.
    /// </summary>
    private ManagementApi Api(BackendEndpoint backend) => new(BackendHttpClient.Create(
        _httpClientFactory, HttpClientName, backend, ManagementUrl(backend),
        new BackendApi("RabbitMQ management API", RequestTimeout)
        {
            SignIn = request => request.Headers.Authorization = BackendHttpClient.BasicAuth(backend),
            ErrorReason = BackendApi.JsonField("reason", "error"),
        }));

    private static bool HasTag(JsonElement user, string tag) => Tags(user).Contains(tag);

    private static List<string> Tags(JsonElement user) =>
        !user.TryGetProperty("tags", out var tags) ? [] : tags.ValueKind switch
        {
            // 3.9+ lists tags as an array; older versions as one comma-separated string.
            JsonValueKind.Array => tags.EnumerateArray().Select(t => t.GetString() ?? "").Where(t => t.Length > 0).ToList(),
            JsonValueKind.String => (tags.GetString() ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList(),
            _ => [],
        };

    /// <summary>The management API calls the driver makes; a missing resource (404) is an answer, not an error.</summary>
    private sealed class ManagementApi(BackendHttpClient http) : IDisposable
    {
        public void Dispose() => http.Dispose();

        /// <summary>GETs a resource; null when it does not exist (404).</summary>
        public async Task<JsonElement?> GetAsync(string[] path, CancellationToken ct)
        {
            var response = await SendAsync(HttpMethod.Get, path, null, ct);
            return response.Status == HttpStatusCode.NotFound ? null : response.EnsureSuccess().Json();
        }

        public async Task PutAsync(string[] path, object body, CancellationToken ct) =>
            (await SendAsync(HttpMethod.Put, path, JsonContent.Create(body), ct)).EnsureSuccess();

        /// <summary>DELETEs a resource; one that is already gone (404) counts as deleted.</summary>
        public async Task DeleteAsync(string[] path, CancellationToken ct)
        {
            var response = await SendAsync(HttpMethod.Delete, path, null, ct);
            if (response.Status != HttpStatusCode.NotFound)
            {
                response.EnsureSuccess();
            }
        }

        private Task<BackendResponse> SendAsync(HttpMethod method, string[] path, HttpContent? content, CancellationToken ct) =>
            http.SendAsync(method, ApiUri(http.BaseUrl, path), content, ct);
    }
}
