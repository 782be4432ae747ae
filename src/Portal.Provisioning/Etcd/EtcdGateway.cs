using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Portal.Provisioning.Etcd;

/// <summary>
/// One signed-in conversation with an etcd cluster (3.4 or later) through its gRPC gateway: HTTP/1.1 POSTs of
/// JSON to <c>/v3/&lt;service&gt;/&lt;method&gt;</c> on a client URL, keys and values base64, int64 values as
/// strings, and the auth token in the <c>Authorization</c> header (bare, no "Bearer").
/// </summary>
/// <remarks>
/// The gateway rather than the gRPC client (dotnet-etcd): the driver needs a dozen admin calls, plain HTTP/1.1
/// needs no h2c setup or protobuf stack, and failover and token handling stay visible here. A client URL that
/// cannot be reached (or answers 503) is skipped for the next one; an expired or stale token is renewed once.
/// </remarks>
internal sealed class EtcdGateway
{
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.General);

    private readonly HttpClient _http;
    private readonly IReadOnlyList<string> _urls;
    private readonly string _user;
    private readonly string _password;
    private int _current;
    private string? _token;

    private EtcdGateway(HttpClient http, BackendEndpoint backend)
    {
        _http = http;
        _urls = ClientUrls(backend);
        _user = backend.AdminUser;
        _password = backend.AdminPassword;
    }

    /// <summary>The client URL that answered last.</summary>
    public string CurrentUrl => _urls[_current];

    /// <summary>Signs in as the backend's admin; fails with <see cref="EtcdException"/> when etcd says no.</summary>
    public static async Task<EtcdGateway> SignInAsync(HttpClient http, BackendEndpoint backend, CancellationToken ct)
    {
        var gateway = new EtcdGateway(http, backend);
        await gateway.AuthenticateAsync(ct);
        return gateway;
    }

    /// <summary>
    /// The cluster's client URLs: <c>http://Host:Port</c> first, then those of the <c>endpoints</c> setting
    /// (comma-separated; a bare <c>host:port</c> means http), without duplicates.
    /// </summary>
    public static IReadOnlyList<string> ClientUrls(BackendEndpoint backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var host = backend.Host.Contains(':') && !backend.Host.StartsWith('[') ? $"[{backend.Host}]" : backend.Host;
        var urls = new List<string> { Normalize($"{host}:{backend.Port.ToString(CultureInfo.InvariantCulture)}") };
        foreach (var entry in (backend.Setting(EtcdDriver.EndpointsSetting) ?? "").Split(',', StringSplitOptions.TrimEntries))
        {
            if (entry.Length > 0)
            {
                urls.Add(Normalize(entry));
            }
        }

        return urls.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    private static string Normalize(string entry)
    {
        var text = entry.Contains("://", StringComparison.Ordinal) ? entry : "http://" + entry;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.UserInfo.Length > 0)
        {
            throw new FormatException($"'{entry}' is not an etcd client URL like http://10.0.0.2:2379.");
        }

        return uri.GetLeftPart(UriPartial.Authority);
    }

    /// <summary>Calls a gateway method (e.g. <c>auth/role/add</c>) with the admin's token.</summary>
    public async Task<JsonElement> CallAsync(string method, object body, CancellationToken ct)
    {
        try
        {
            return await SendAsync(method, body, _token, ct);
        }
        catch (EtcdException e) when (e.IsStaleToken)
        {
            // Simple tokens lapse after their idle TTL and JWTs go stale on any auth change anywhere in the
            // cluster (the Go client retries the same way): sign in again, once.
            await AuthenticateAsync(ct);
            return await SendAsync(method, body, _token, ct);
        }
    }

    private async Task AuthenticateAsync(CancellationToken ct)
    {
        var answer = await SendAsync("auth/authenticate", new { name = _user, password = _password }, null, ct);
        _token = answer.TryGetProperty("token", out var token) ? token.GetString() : null;
        if (string.IsNullOrEmpty(_token))
        {
            throw new EtcdException(EtcdException.UnknownCode, "etcd answered the sign-in without a token.", null);
        }
    }

    private async Task<JsonElement> SendAsync(string method, object body, string? token, CancellationToken ct)
    {
        var json = JsonSerializer.Serialize(body, JsonOptions);
        var failures = new List<string>();
        for (var n = 0; n < _urls.Count; n++)
        {
            var index = (_current + n) % _urls.Count;
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{_urls[index]}/v3/{method}")
            {
                Content = new StringContent(json, Encoding.UTF8, "application/json"),
            };
            if (token is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", token);
            }

            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            attempt.CancelAfter(AttemptTimeout);
            try
            {
                using var response = await _http.SendAsync(request, attempt.Token);
                var text = await response.Content.ReadAsStringAsync(attempt.Token);
                if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    // Unavailable: this member has no leader or is shutting down; another may serve.
                    failures.Add($"{_urls[index]}: {EtcdException.FromResponse(response.StatusCode, text).Message}");
                    continue;
                }

                _current = index;
                if (!response.IsSuccessStatusCode)
                {
                    throw EtcdException.FromResponse(response.StatusCode, text);
                }

                using var document = JsonDocument.Parse(text);
                return document.RootElement.Clone();
            }
            catch (HttpRequestException e)
            {
                failures.Add($"{_urls[index]}: {e.Message}");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                failures.Add($"{_urls[index]}: no answer within {AttemptTimeout.TotalSeconds:0} s");
            }
            catch (JsonException e)
            {
                throw new EtcdException(EtcdException.UnknownCode, $"{_urls[index]} did not answer like etcd: {e.Message}", null);
            }
        }

        throw new HttpRequestException($"No etcd endpoint answered: {string.Join("; ", failures)}");
    }

    /// <summary>Base64 of a UTF-8 key, as the gateway takes keys.</summary>
    public static string Key(string key) => Convert.ToBase64String(Encoding.UTF8.GetBytes(key));

    /// <summary>Base64 of raw key bytes.</summary>
    public static string Key(byte[] key) => Convert.ToBase64String(key);

    /// <summary>The strings of a JSON array property; empty when the property is missing (proto3 omits empty lists).</summary>
    public static IEnumerable<string> Strings(JsonElement element, string property) =>
        element.TryGetProperty(property, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray().Select(e => e.GetString() ?? "")
            : [];

    /// <summary>An int64 the gateway sent as a JSON string (or number); 0 when omitted as the default.</summary>
    public static long Int64(JsonElement element, string property) =>
        !element.TryGetProperty(property, out var value) ? 0
        : value.ValueKind == JsonValueKind.String ? long.Parse(value.GetString()!, CultureInfo.InvariantCulture)
        : value.GetInt64();

    /// <summary>A string property, or the proto3 default "" when omitted.</summary>
    public static string String(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";
}

/// <summary>An error answer of etcd: its gRPC status code and message (e.g. 7 "etcdserver: permission denied").</summary>
public sealed class EtcdException : Exception
{
    /// <summary>Code used when the answer carried none.</summary>
    public const int UnknownCode = 2;

    /// <summary>Creates the exception.</summary>
    public EtcdException(int code, string message, HttpStatusCode? status)
        : base(message)
    {
        Code = code;
        Status = status;
    }

    /// <summary>The gRPC status code (3 InvalidArgument, 5 NotFound, 7 PermissionDenied, 9 FailedPrecondition, 16 Unauthenticated…).</summary>
    public int Code { get; }

    /// <summary>The HTTP status of the gateway's answer, when there was one.</summary>
    public HttpStatusCode? Status { get; }

    // etcd reuses codes (9 covers "already exists", "not found" and more), so its fixed messages tell them apart.
    internal bool IsAlreadyExists => Has("already exists");

    internal bool IsNotFound => Has("not found");

    internal bool IsAuthNotEnabled => Has("authentication is not enabled");

    internal bool IsPermissionNotGranted => Has("permission is not granted");

    internal bool IsStaleToken => Code == 16 || Has("invalid auth token") || Has("auth store is old");

    private bool Has(string text) => Message.Contains(text, StringComparison.OrdinalIgnoreCase);

    internal static EtcdException FromResponse(HttpStatusCode status, string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var message = EtcdGateway.String(root, "message");
            if (message.Length == 0)
            {
                message = EtcdGateway.String(root, "error");
            }

            var code = root.TryGetProperty("code", out var c) && c.TryGetInt32(out var n) ? n : UnknownCode;
            return new EtcdException(code, message.Length > 0 ? message : $"HTTP {(int)status}", status);
        }
        catch (JsonException)
        {
            var excerpt = body.Length > 200 ? body[..200] + "…" : body;
            return new EtcdException(UnknownCode, $"HTTP {(int)status} {status}: {excerpt}", status);
        }
    }
}
