using System.Net;
using System.Text;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.Http;

namespace Portal.Provisioning.Tests.Http;

/// <summary>The building block's promises, with a stub handler in place of a server: timeouts, status errors, no secrets.</summary>
public sealed class BackendHttpClientTests
{
    private const string Password = "admin-pw-7f3a";
    private static readonly Uri BaseUrl = new("http://backend.test/");
    private static readonly BackendEndpoint Backend = new("backend.test", 80, "admin", Password);
    private static readonly BackendApi Api = new("Test API", TimeSpan.FromSeconds(5));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SendAsync_NoAnswerInTime_ThrowsTimeoutNamingApiAndCallButNoQueryValues()
    {
        using var client = Client(async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return new HttpResponseMessage();
        }, Api with { Timeout = TimeSpan.FromMilliseconds(100) });

        var e = await Assert.ThrowsAsync<TimeoutException>(
            () => client.SendAsync(HttpMethod.Get, new Uri("api/things?filter=pi_secretish", UriKind.Relative), null, Ct));

        Assert.Equal("Test API GET /api/things?filter at http://backend.test/ did not answer within 0.1 s.", e.Message);
    }

    [Fact]
    public async Task SendAsync_NoConnection_ThrowsHttpRequestNamingApiAndCall()
    {
        using var client = Client((_, _) => throw new HttpRequestException("Connection refused"));

        var e = await Assert.ThrowsAsync<HttpRequestException>(
            () => client.SendAsync(HttpMethod.Put, new Uri("api/vhosts/x", UriKind.Relative), null, Ct));

        Assert.Equal("Test API at http://backend.test/ not reachable (PUT /api/vhosts/x): Connection refused", e.Message);
    }

    [Fact]
    public async Task EnsureSuccess_JsonFieldReason_QuotesTheReasonMaskedAndShortened()
    {
        var reason = $"login failed for admin:{Password} " + new string('x', 400);
        using var client = Client(Answer(HttpStatusCode.Unauthorized, $$"""{"error":"not_authorised","reason":"{{reason}}"}"""),
            Api with { ErrorReason = BackendApi.JsonField("reason", "error") });
        var response = await client.SendAsync(HttpMethod.Get, new Uri("api/whoami", UriKind.Relative), null, Ct);

        var e = Assert.Throws<HttpRequestException>(() => response.EnsureSuccess());

        Assert.Equal(HttpStatusCode.Unauthorized, e.StatusCode);
        Assert.StartsWith("Test API GET /api/whoami answered 401 Unauthorized: login failed for admin:*** xxx", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("…", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnsureSuccess_DefaultErrorReason_QuotesNothingOfTheBody()
    {
        using var client = Client(Answer(HttpStatusCode.InternalServerError, """[{"access_key":"AK","secret_key":"generated-secret"}]"""));
        var response = await client.SendAsync(HttpMethod.Put, new Uri("admin/user?key&uid=a", UriKind.Relative), null, Ct);

        var e = Assert.Throws<HttpRequestException>(() => response.EnsureSuccess());

        Assert.Equal("Test API PUT /admin/user?key&uid answered 500 InternalServerError: (error body not shown)", e.Message);
    }

    [Fact]
    public async Task Json_BodyNotJson_ThrowsWithoutQuotingIt()
    {
        using var client = Client(Answer(HttpStatusCode.OK, "secret_key=generated-secret"));
        var response = await client.SendAsync(HttpMethod.Get, new Uri("admin/user", UriKind.Relative), null, Ct);

        var e = Assert.Throws<HttpRequestException>(() => response.Json());

        Assert.DoesNotContain("generated-secret", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_SignIn_SignsEveryRequest()
    {
        string? seen = null;
        using var client = Client((request, _) =>
        {
            seen = request.Headers.Authorization?.ToString();
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.NoContent));
        }, Api with { SignIn = r => r.Headers.Authorization = BackendHttpClient.BasicAuth(Backend) });

        (await client.SendAsync(HttpMethod.Delete, new Uri("api/users/u", UriKind.Relative), null, Ct)).EnsureSuccess();

        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{Password}")), seen);
    }

    [Theory]
    [InlineData("https://backend.test/", false)]
    [InlineData("http://backend.test/", true)]
    public void Create_TlsBackend_HttpsTrustsThePlatformCaInsteadOfTheFactoryClient(string url, bool usesFactory)
    {
        using var ca = CertificateAuthority.CreateRoot("Test CA", TimeSpan.FromDays(1));
        var tls = Backend with { Settings = new Dictionary<string, string> { ["tls"] = "true" }, PlatformCa = ca };
        var factory = new StubFactory((_, _) => Task.FromResult(new HttpResponseMessage()));

        using var client = BackendHttpClient.Create(factory, "test", tls, new Uri(url), Api);

        Assert.Equal(usesFactory ? 1 : 0, factory.Created);
    }

    private static BackendHttpClient Client(
        Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer, BackendApi? api = null) =>
        BackendHttpClient.Create(new StubFactory(answer), "test", Backend, BaseUrl, api ?? Api);

    private static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Answer(HttpStatusCode status, string body) =>
        (_, _) => Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body) });

    private sealed class StubFactory(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer) : IHttpClientFactory
    {
        public int Created { get; private set; }

        public HttpClient CreateClient(string name)
        {
            Created++;
            return new HttpClient(new StubHandler(answer));
        }
    }

    private sealed class StubHandler(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            answer(request, cancellationToken);
    }
}
