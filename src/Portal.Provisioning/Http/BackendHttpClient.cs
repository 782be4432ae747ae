using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Portal.Provisioning.Http;

/// <summary>
/// One backend HTTP API as a driver calls it (RabbitMQ's management API, Prometheus, RGW Admin Ops…): every call has
/// a time limit, and every failure names the API and the call — a timeout as a <see cref="TimeoutException"/>, no
/// connection or a non-success status (<see cref="BackendResponse.EnsureSuccess"/>) as an
/// <see cref="HttpRequestException"/> with the status code. Error bodies may hold secrets, so a message quotes only
/// what <see cref="BackendApi.ErrorReason"/> picks from one, shortened and with the admin password masked.
/// </summary>
public sealed class BackendHttpClient : IDisposable
{
    private const int MaxReasonLength = 300;

    private readonly HttpClient _http;
    private readonly BackendEndpoint _backend;

    private BackendHttpClient(HttpClient http, BackendEndpoint backend, Uri baseUrl, BackendApi api)
    {
        _http = http;
        _backend = backend;
        BaseUrl = baseUrl;
        Api = api;
    }

    /// <summary>The API's base URL; relative request URLs are resolved against it.</summary>
    public Uri BaseUrl { get; }

    /// <summary>How this API is called and named.</summary>
    public BackendApi Api { get; }

    /// <summary>
    /// A client for <paramref name="backend"/>'s API at <paramref name="baseUrl"/>: the factory's named client, or,
    /// for an https API of a TLS backend (<see cref="BackendEndpoint.Tls"/>), one that trusts the backend's platform
    /// CA and nothing else (<see cref="PlatformCaHandler"/>). Dispose it after the operation.
    /// </summary>
    public static BackendHttpClient Create(
        IHttpClientFactory factory, string clientName, BackendEndpoint backend, Uri baseUrl, BackendApi api)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(baseUrl);
        ArgumentNullException.ThrowIfNull(api);
        // The factory's named client has one handler for every backend, while the trust anchor belongs to each backend,
        // so a TLS backend's calls get a handler of their own. An operation makes a few calls; the extra handshake
        // costs nothing worth pooling for.
        var http = backend.Tls && baseUrl.Scheme == Uri.UriSchemeHttps
            ? new HttpClient(PlatformCaHandler.Create(backend.RequireCa()), disposeHandler: true)
            : factory.CreateClient(clientName);
        // Each call has its own limit (SendAsync): HttpClient's would end a long call early with a bare TaskCanceledException.
        http.Timeout = Timeout.InfiniteTimeSpan;
        return new BackendHttpClient(http, backend, baseUrl, api);
    }

    /// <summary>HTTP basic authentication as the backend's admin.</summary>
    public static AuthenticationHeaderValue BasicAuth(BackendEndpoint backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        return new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{backend.AdminUser}:{backend.AdminPassword}")));
    }

    /// <summary>
    /// Sends one request (signed by <see cref="BackendApi.SignIn"/>) and reads the whole answer, whatever its status.
    /// </summary>
    /// <param name="url">Absolute, or relative to <see cref="BaseUrl"/>.</param>
    /// <param name="timeout">This call's limit when it is not <see cref="BackendApi.Timeout"/> (e.g. a purge).</param>
    public async Task<BackendResponse> SendAsync(
        HttpMethod method, Uri url, HttpContent? content, CancellationToken ct, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(url);
        using var request = new HttpRequestMessage(method, url.IsAbsoluteUri ? url : new Uri(BaseUrl, url)) { Content = content };
        var call = Describe(method, request.RequestUri!);
        Api.SignIn?.Invoke(request);

        var limit = timeout ?? Api.Timeout;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(limit);
        try
        {
            using var response = await _http.SendAsync(request, cts.Token);
            return new BackendResponse(this, call, response.StatusCode, await response.Content.ReadAsStringAsync(cts.Token));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"{Api.Name} {call} at {BaseUrl} did not answer within {limit.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s.");
        }
        catch (HttpRequestException e)
        {
            throw new HttpRequestException($"{Api.Name} at {BaseUrl} not reachable ({call}): {e.Message}", e, e.StatusCode);
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>What an error message may say of an error body: the API's pick, shortened, the admin password masked.</summary>
    internal string Reason(string body)
    {
        var reason = (Api.ErrorReason(body) ?? "").Trim();
        if (reason.Length == 0)
        {
            return "(no reason given)";
        }

        if (_backend.AdminPassword.Length > 0)
        {
            reason = reason.Replace(_backend.AdminPassword, "***", StringComparison.Ordinal);
        }

        return reason.Length <= MaxReasonLength ? reason : reason[..MaxReasonLength] + "…";
    }

    /// <summary>
    /// A call as messages name it: method, path and the names of the query parameters, never their values (they may
    /// be ids, keys or query text).
    /// </summary>
    private static string Describe(HttpMethod method, Uri url)
    {
        var query = url.Query.TrimStart('?');
        var names = query.Length == 0
            ? ""
            : "?" + string.Join('&', query.Split('&').Select(p => Uri.UnescapeDataString(p.Split('=', 2)[0])));
        return $"{method} {url.AbsolutePath}{names}";
    }
}

/// <summary>
/// How a driver calls one backend HTTP API.
/// </summary>
/// <param name="Name">What messages call the API, e.g. <c>RabbitMQ management API</c>.</param>
/// <param name="Timeout">How long one call may take.</param>
public sealed record BackendApi(string Name, TimeSpan Timeout)
{
    /// <summary>Signs each request in as the admin (a header or a signature); none when null.</summary>
    public Action<HttpRequestMessage>? SignIn { get; init; }

    /// <summary>
    /// What of an error body a message may quote. The default quotes nothing: a body may hold secrets (RGW's hold the
    /// keys it generated), so an API that wants more names the part that is safe, e.g. with <see cref="JsonField"/>.
    /// </summary>
    public Func<string, string?> ErrorReason { get; init; } = _ => "(error body not shown)";

    /// <summary>
    /// An <see cref="ErrorReason"/> for APIs whose errors carry a message in JSON: the first of
    /// <paramref name="fields"/> the body's object has, or else the body as it is (still shortened and masked).
    /// </summary>
    public static Func<string, string?> JsonField(params string[] fields) => body =>
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return fields.Select(f => JsonText.Text(document.RootElement, f)).FirstOrDefault(t => t.Length > 0) ?? body;
        }
        catch (JsonException)
        {
            return body;
        }
    };
}

/// <summary>One answer of a backend API. The body may hold secrets: read it, never log it or put it in a message.</summary>
public sealed class BackendResponse
{
    private readonly BackendHttpClient _client;

    internal BackendResponse(BackendHttpClient client, string call, HttpStatusCode status, string body)
    {
        _client = client;
        Call = call;
        Status = status;
        Body = body;
    }

    /// <summary>The call as messages name it, e.g. <c>GET /admin/user?uid</c>.</summary>
    public string Call { get; }

    public HttpStatusCode Status { get; }

    public string Body { get; }

    public bool IsSuccess => (int)Status is >= 200 and < 300;

    /// <summary>Throws an <see cref="HttpRequestException"/> with the status code unless the status is 2xx.</summary>
    public BackendResponse EnsureSuccess() => IsSuccess
        ? this
        : throw new HttpRequestException(
            $"{_client.Api.Name} {Call} answered {((int)Status).ToString(CultureInfo.InvariantCulture)} {Status}: {_client.Reason(Body)}",
            null, Status);

    /// <summary>The body's JSON; a body that is not JSON is an <see cref="HttpRequestException"/> that does not quote it.</summary>
    public JsonElement Json()
    {
        try
        {
            using var document = JsonDocument.Parse(Body);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            // Not the parser's message: it may quote the body.
            throw new HttpRequestException($"{_client.Api.Name} {Call} did not answer with JSON.");
        }
    }
}
