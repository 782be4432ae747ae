using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;

namespace Portal.Provisioning.Etcd;

/// <summary>
/// One signed-in conversation with an etcd cluster (3.4 or later). On a plain backend it goes through etcd's gRPC
/// gateway: HTTP/1.1 POSTs of JSON to <c>/v3/&lt;service&gt;/&lt;method&gt;</c> on a client URL, keys and values
/// base64, int64 values as strings, and the auth token in the <c>Authorization</c> header (bare, no "Bearer"). On a
/// TLS backend (<see cref="BackendEndpoint.Tls"/>) the same calls go over gRPC with a client certificate
/// (<see cref="EtcdGrpc"/>), in the same JSON shape.
/// </summary>
/// <remarks>
/// The gateway rather than the gRPC client where it can: the driver needs a dozen admin calls, plain HTTP/1.1
/// needs no h2c setup or protobuf stack, and failover and token handling stay visible here. A client URL that
/// cannot be reached (or answers 503 / gRPC "unavailable") is skipped for the next one; an expired or stale token is
/// renewed once.
/// </remarks>
internal sealed class EtcdGateway
{
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.General);

    private readonly HttpClient _http;
    private readonly EtcdTlsChannels? _tls;
    private readonly BackendEndpoint _backend;
    private readonly IReadOnlyList<string> _urls;
    private int _current;
    private string? _token;

    private EtcdGateway(HttpClient http, EtcdTlsChannels? tls, BackendEndpoint backend)
    {
        _http = http;
        _tls = tls;
        _backend = backend;
        _urls = ClientUrls(backend);
    }

    /// <summary>The client URL that answered last.</summary>
    public string CurrentUrl => _urls[_current];

    /// <summary>
    /// Signs in as the backend's admin; fails with <see cref="EtcdException"/> when etcd says no. A TLS backend is
    /// reached through <paramref name="tls"/>, a plain one through <paramref name="http"/>.
    /// </summary>
    public static async Task<EtcdGateway> SignInAsync(HttpClient http, EtcdTlsChannels? tls, BackendEndpoint backend, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (backend.Tls && tls is null)
        {
            throw new InvalidOperationException($"Backend {backend} serves TLS, which needs the driver's gRPC channels.");
        }

        var gateway = new EtcdGateway(http, backend.Tls ? tls : null, backend);
        await gateway.AuthenticateAsync(ct);
        return gateway;
    }

    /// <summary>Signs in to a plain (non-TLS) backend through its gateway.</summary>
    public static Task<EtcdGateway> SignInAsync(HttpClient http, BackendEndpoint backend, CancellationToken ct) =>
        SignInAsync(http, null, backend, ct);

    /// <summary>
    /// The cluster's client URLs: <c>Host:Port</c> first, then those of the <c>endpoints</c> setting
    /// (comma-separated), without duplicates. A bare <c>host:port</c> means https on a TLS backend and http
    /// otherwise; a TLS backend refuses http URLs, which would carry the admin's password in the clear.
    /// </summary>
    public static IReadOnlyList<string> ClientUrls(BackendEndpoint backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var scheme = backend.Tls ? Uri.UriSchemeHttps : Uri.UriSchemeHttp;
        var host = backend.Host.Contains(':') && !backend.Host.StartsWith('[') ? $"[{backend.Host}]" : backend.Host;
        var urls = new List<string> { Normalize($"{host}:{backend.Port.ToString(CultureInfo.InvariantCulture)}", scheme) };
        foreach (var entry in (backend.Setting(EtcdDriver.EndpointsSetting) ?? "").Split(',', StringSplitOptions.TrimEntries))
        {
            if (entry.Length > 0)
            {
                urls.Add(Normalize(entry, scheme));
            }
        }

        return urls.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    private static string Normalize(string entry, string scheme)
    {
        var text = entry.Contains("://", StringComparison.Ordinal) ? entry : $"{scheme}://{entry}";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.UserInfo.Length > 0)
        {
            throw new FormatException($"'{entry}' is not an etcd client URL like {scheme}://10.0.0.2:2379.");
        }

        if (scheme == Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new FormatException($"'{entry}' is plain http, but this backend serves TLS: use https://.");
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
        var answer = await SendAsync("auth/authenticate", new { name = _backend.AdminUser, password = _backend.AdminPassword }, null, ct);
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
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            attempt.CancelAfter(AttemptTimeout);
            try
            {
                var answer = _tls is null
                    ? await SendHttpAsync(_urls[index], method, json, token, attempt.Token)
                    : await EtcdGrpc.CallAsync(_tls.For(_backend, _urls[index]), method, json, token, attempt.Token);
                _current = index;
                return answer;
            }
            catch (MemberUnavailableException e)
            {
                // Unavailable: this member has no leader or is shutting down; another may serve.
                failures.Add($"{_urls[index]}: {e.Message}");
            }
            catch (RpcException e) when (EtcdGrpc.IsUnavailable(e))
            {
                failures.Add($"{_urls[index]}: {e.Status.Detail}");
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
            catch (EtcdException)
            {
                _current = index;
                throw;
            }
        }

        throw new HttpRequestException($"No etcd endpoint answered: {string.Join("; ", failures)}");
    }

    private async Task<JsonElement> SendHttpAsync(string url, string method, string json, string? token, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{url}/v3/{method}")
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", token);
        }

        using var response = await _http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
        {
            throw new MemberUnavailableException(EtcdException.FromResponse(response.StatusCode, text).Message);
        }

        if (!response.IsSuccessStatusCode)
        {
            throw EtcdException.FromResponse(response.StatusCode, text);
        }

        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private sealed class MemberUnavailableException(string message) : Exception(message);

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
