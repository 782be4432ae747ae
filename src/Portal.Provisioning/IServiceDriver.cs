using System.Globalization;
using Portal.Provisioning.Certificates;

namespace Portal.Provisioning;

/// <summary>
/// Manages one kind of baseline service on a backend server. Every method is idempotent: a job that
/// crashed half-way calls it again, and the backend resource names derive from the instance and binding
/// ids (never from user text), so the retry finds what the first try made.
/// </summary>
public interface IServiceDriver
{
    /// <summary>The offering kind this driver serves, e.g. <c>postgresql</c>.</summary>
    string Kind { get; }

    /// <summary>Creates the instance's resources on the backend, or finishes what an earlier try began.</summary>
    Task<ProvisionResult> ProvisionAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>Applies the instance's (new) plan limits to what exists on the backend.</summary>
    Task UpdateAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>Removes everything of the instance from the backend, its bindings included.</summary>
    Task DeprovisionAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>
    /// Creates (or re-creates with a fresh secret) the credentials of one generation of a binding
    /// (<see cref="BindingContext.Generation"/>): 0 when the binding is made, one more per rotation. A rotation
    /// makes generation n+1 while generation n keeps working, so credentials of a generation must not touch those
    /// of another (e.g. a user per generation). With <see cref="BindingContext.ClientCertificate"/> and
    /// <see cref="SupportsClientCertificates"/>, the credentials carry <c>tls.crt</c>/<c>tls.key</c> issued by
    /// <see cref="BackendEndpoint.PlatformCa"/> for the generation's user.
    /// </summary>
    Task<BindingCredentials> BindAsync(BindingContext binding, CancellationToken ct);

    /// <summary>
    /// Removes the credentials of one earlier generation of a binding after a rotation's overlap, and ends the
    /// sessions opened with them where the server allows; the binding's other generations keep working.
    /// </summary>
    Task RetireAsync(BindingContext binding, int generation, CancellationToken ct) =>
        throw new NotSupportedException($"The {Kind} driver cannot rotate credentials yet.");

    /// <summary>
    /// Revokes every generation of one binding's credentials and ends its open sessions where the server allows.
    /// </summary>
    Task UnbindAsync(BindingContext binding, CancellationToken ct);

    /// <summary>True when the backend authenticates a binding's user by a client certificate from the platform CA.</summary>
    bool SupportsClientCertificates => false;

    /// <summary>
    /// True when the driver talks TLS to a backend registered with <c>tls=true</c> (trusting the platform CA alone) and
    /// its bindings carry <c>ca.crt</c>; such a kind's backends take the <see cref="BackendEndpoint.TlsSetting"/>.
    /// </summary>
    bool SupportsTls => false;

    /// <summary>Reports whether the instance exists on the backend and is usable.</summary>
    Task<HealthReport> CheckAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>
    /// Reads, changing nothing, what the backend holds of the instance and its bindings, for reconcile (drift
    /// detection): whether the instance's resources exist and match its plan and what the driver made, and which
    /// generations of which bindings have credentials there. Throws when the backend cannot be reached: that is not drift.
    /// For an instance that never was or was deprovisioned, <see cref="Observation.IsEmpty"/> is true; credentials left
    /// behind by an instance whose resource is gone are still listed.
    /// </summary>
    Task<Observation> ObserveAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>Checks that the backend answers with the admin credentials ("test connection").</summary>
    Task<HealthReport> TestBackendAsync(BackendEndpoint backend, CancellationToken ct);

    /// <summary>Settings a backend of this kind has besides host, port and admin credentials (e.g. a management URL).</summary>
    IReadOnlyList<DriverField> BackendSettings => [];

    /// <summary>Parameters a requester gives for an instance of this kind (e.g. redirect URIs).</summary>
    IReadOnlyList<DriverField> InstanceParameters => [];

    /// <summary>Plan limits this driver applies (e.g. <c>connections</c>), for the plan editor's help.</summary>
    IReadOnlyList<DriverField> PlanLimits => [];

    /// <summary>
    /// Checks a request's instance parameters before anything is created; returns an error message per
    /// bad parameter name (empty when all is well). Unknown names are refused by the caller.
    /// </summary>
    IReadOnlyDictionary<string, string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) =>
        new Dictionary<string, string>();

    /// <summary>
    /// The URLs in an instance's parameters, as the requester wrote them. Those the backend connects to
    /// (<see cref="ParameterUrl.Connects"/>: scrape targets, alert webhooks) are judged by the portal's egress policy when
    /// requested and before each apply and reconcile; the others (redirect URIs, which browsers follow) by their form only.
    /// </summary>
    IReadOnlyList<ParameterUrl> ParameterUrls(IReadOnlyDictionary<string, string> parameters) => [];
}

/// <summary>A URL in an instance parameter.</summary>
/// <param name="Parameter">The parameter's name, e.g. <c>targets</c>.</param>
/// <param name="Url">The URL as written (a bare <c>host:port</c> target with <c>http://</c> in front).</param>
/// <param name="Connects">True when the backend connects to it; false when only browsers do.</param>
public sealed record ParameterUrl(string Parameter, string Url, bool Connects);

/// <summary>A named value a driver reads, with the label and help a form shows for it.</summary>
public sealed record DriverField(string Name, string Label, string Help, bool Required = false);

/// <summary>Where a backend server is and how the portal signs in to administer it.</summary>
/// <remarks>
/// <see cref="Settings"/> holds the kind's further non-secret settings named by
/// <see cref="IServiceDriver.BackendSettings"/>, e.g. RabbitMQ's <c>managementUrl</c>.
/// </remarks>
public sealed record BackendEndpoint(string Host, int Port, string AdminUser, string AdminPassword)
{
    private static readonly string[] CoreKeys = ["host", "port", "adminuser", "adminpassword"];

    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The platform CA: the only root a driver trusts when it talks TLS to the backend (setting <c>tls=true</c>),
    /// and the issuer of client certificates. Null where no CA is configured (then no TLS, no client certificates).
    /// </summary>
    public CertificateAuthority? PlatformCa { get; init; }

    /// <summary>The backend setting of kinds that <see cref="IServiceDriver.SupportsTls"/>.</summary>
    public static readonly DriverField TlsSetting = new("tls", "TLS",
        "true when the server serves TLS with a certificate from the platform CA: the portal and the apps verify it against that CA alone. " +
        "Empty: plain TCP, and no client certificates.");

    /// <summary>True when the backend serves TLS (setting <c>tls=true</c>, written by the ops/backends scripts).</summary>
    public bool Tls => ServesTls(Settings);

    /// <summary>True when a backend's settings say it serves TLS (<c>tls=true</c>).</summary>
    public static bool ServesTls(IReadOnlyDictionary<string, string> settings) =>
        settings.TryGetValue("tls", out var value) && string.Equals(value.Trim(), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The platform CA, or an error naming what is missing when a TLS backend or a client certificate needs it.</summary>
    public CertificateAuthority RequireCa() =>
        PlatformCa ?? throw new InvalidOperationException($"Backend {this} needs the platform CA (TLS or client certificates), but none was given.");

    /// <summary>A setting's value, or null when it is not set.</summary>
    public string? Setting(string name) =>
        Settings.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value : null;

    /// <summary>
    /// Reads <c>Host=…;Port=…;AdminUser=…;AdminPassword=…;name=value…</c>: the four core keys in any case,
    /// every other key a setting, its name kept as written (e.g. <c>managementUrl</c>). Values cannot
    /// contain <c>;</c>. The <c>ops/backends/*</c> scripts write this form.
    /// </summary>
    public static BackendEndpoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < text.Length)
        {
            var equals = text.IndexOf('=', i);
            if (equals < 0)
            {
                if (text[i..].Trim().Length > 0)
                {
                    throw new FormatException($"The backend endpoint part '{text[i..].Trim()}' is not name=value.");
                }

                break;
            }

            var name = text[i..equals].Trim().TrimStart(';').Trim();
            var start = equals + 1;
            while (start < text.Length && text[start] == ' ')
            {
                start++;
            }

            string value;
            if (start < text.Length && text[start] is '\'' or '"')
            {
                // A quoted value may hold ';' (as in ADO.NET connection strings).
                var end = text.IndexOf(text[start], start + 1);
                if (end < 0)
                {
                    throw new FormatException($"The value of '{name}' has no closing quote.");
                }

                value = text[(start + 1)..end];
                var next = text.IndexOf(';', end);
                i = next < 0 ? text.Length : next + 1;
            }
            else
            {
                var next = text.IndexOf(';', start);
                value = (next < 0 ? text[start..] : text[start..next]).Trim();
                i = next < 0 ? text.Length : next + 1;
            }

            if (name.Length == 0)
            {
                throw new FormatException("The backend endpoint has a value without a name.");
            }

            values[name] = value;
        }

        string Get(string key) => values.TryGetValue(key, out var v) ? v : "";
        if (!int.TryParse(Get("port"), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            throw new FormatException("The backend endpoint has no valid Port.");
        }

        var settings = values.Where(kv => !CoreKeys.Contains(kv.Key, StringComparer.OrdinalIgnoreCase))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        return new BackendEndpoint(Get("host"), port, Get("adminuser"), Get("adminpassword")) { Settings = settings };
    }

    // Keep the password out of logs and exception messages that print the record.
    public override string ToString() => $"{AdminUser}@{Host}:{Port}";
}

/// <summary>What a driver needs to know about one instance.</summary>
/// <param name="InstanceId">The instance's id; backend names derive from it.</param>
/// <param name="Backend">The backend server the instance lives on.</param>
/// <param name="Limits">The plan's limits, e.g. <c>connections</c> = 20.</param>
/// <param name="Progress">Receives human-readable progress lines (never secrets).</param>
public sealed record InstanceContext(
    Guid InstanceId,
    BackendEndpoint Backend,
    IReadOnlyDictionary<string, int> Limits,
    IProgress<string> Progress)
{
    /// <summary>The requester's parameters, named by <see cref="IServiceDriver.InstanceParameters"/>.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();
}

/// <summary>What a driver needs to know about one binding.</summary>
public sealed record BindingContext(InstanceContext Instance, Guid BindingId)
{
    /// <summary>The credentials' generation: 0 when bound, one more per rotation. Name generation users from it.</summary>
    public int Generation { get; init; }

    /// <summary>The binding asked for a client certificate (where <see cref="IServiceDriver.SupportsClientCertificates"/>).</summary>
    public bool ClientCertificate { get; init; }

    /// <summary>How long an issued client certificate is valid (the plan's <c>certificateValidityHours</c>).</summary>
    public TimeSpan CertificateValidity { get; init; } = TimeSpan.FromDays(7);

    /// <summary>
    /// When a repair re-creates credentials that went missing on the backend: the values this generation was issued
    /// before. A driver that can set the secret re-uses it (password, token, key), so the app keeps working unchanged;
    /// one that cannot issues new ones. Null for a new generation.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Existing { get; init; }

    /// <summary>
    /// The secret under <paramref name="key"/> in <see cref="Existing"/> when a repair re-creates this generation, so the
    /// app's credentials keep working; otherwise a fresh <see cref="SecretGenerator.Password"/> of
    /// <paramref name="length"/> characters.
    /// </summary>
    /// <exception cref="ArgumentException">The existing value is not a secret a driver makes (it would reach
    /// connection strings, URIs and lookup tables unescaped).</exception>
    public string ExistingOrNewSecret(string key, int length = SecretGenerator.DefaultLength)
    {
        if (Existing is null || !Existing.TryGetValue(key, out var secret))
        {
            return SecretGenerator.Password(length);
        }

        // The message names the key only: the value is a secret.
        return SecretGenerator.IsPassword(secret)
            ? secret
            : throw new ArgumentException($"The existing credentials of {this} hold a {key} that no driver makes.", nameof(key));
    }

    // Never prints Existing: it holds secrets.
    public override string ToString() => $"binding {BindingId} generation {Generation} of instance {Instance.InstanceId}";
}

/// <summary>Non-secret facts about a provisioned instance, e.g. the database name.</summary>
public sealed record ProvisionResult(IReadOnlyDictionary<string, string> Outputs);

/// <summary>
/// The credentials an app uses to reach its instance, as ordered key/value pairs (e.g. host, port,
/// database, username, password, uri). The whole set is treated as secret by the portal.
/// </summary>
public sealed record BindingCredentials(IReadOnlyDictionary<string, string> Values)
{
    public override string ToString() => $"BindingCredentials({string.Join(", ", Values.Keys)})";
}

public sealed record HealthReport(bool Healthy, string Message);

/// <summary>What <see cref="IServiceDriver.ObserveAsync"/> found of an instance on its backend.</summary>
/// <param name="Exists">The instance's main resource (database, vhost, bucket, stream…) is there.</param>
/// <param name="Differences">
/// Each way the backend differs from what the plan and the driver made, in words for the team (e.g. "the owner role
/// pi_… is missing", "connection limit is 5, the plan says 10"). Empty when it matches. Never holds a secret.
/// </param>
/// <param name="Bindings">
/// The generations whose credentials the backend holds, by binding id; null for kinds that keep nothing per binding on
/// the backend.
/// </param>
public sealed record Observation(bool Exists, IReadOnlyList<string> Differences, IReadOnlyDictionary<Guid, IReadOnlySet<int>>? Bindings)
{
    /// <summary>Nothing of the instance is on the backend.</summary>
    public static Observation Absent(bool tracksBindings = true) =>
        new(false, [], tracksBindings ? new Dictionary<Guid, IReadOnlySet<int>>() : null);

    /// <summary>
    /// What a kind with credentials per binding found: <paramref name="bindings"/> read back from backend names
    /// (null entries, names of no binding, are left out).
    /// </summary>
    public static Observation Of(bool exists, IReadOnlyList<string> differences, IEnumerable<BindingGeneration?> bindings) =>
        new(exists, differences, BindingNames.Generations(bindings));

    /// <summary>True when nothing of the instance or its bindings is on the backend.</summary>
    public bool IsEmpty => !Exists && (Bindings is null || Bindings.Count == 0);
}
