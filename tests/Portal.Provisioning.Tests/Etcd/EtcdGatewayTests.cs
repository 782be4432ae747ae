using System.Net;
using System.Text;
using Portal.Provisioning.Etcd;

namespace Portal.Provisioning.Tests.Etcd;

/// <summary>Token renewal and endpoint failover of <see cref="EtcdGateway"/>, against scripted answers.</summary>
public sealed class EtcdGatewayTests
{
    private static readonly BackendEndpoint Backend = new("10.0.0.1", 2379, "root", "pw")
    {
        Settings = new Dictionary<string, string> { [EtcdDriver.EndpointsSetting] = "10.0.0.2:2379" },
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CallAsync_TokenRejected_SignsInAgainOnceAndRetries()
    {
        var handler = new ScriptedHandler(
            Answer(HttpStatusCode.OK, """{"token":"first"}"""),
            Answer(HttpStatusCode.Unauthorized, """{"message":"etcdserver: invalid auth token","code":16}"""),
            Answer(HttpStatusCode.OK, """{"token":"second"}"""),
            Answer(HttpStatusCode.OK, """{"users":["root"]}"""));
        var etcd = await EtcdGateway.SignInAsync(new HttpClient(handler), Backend, Ct);

        var users = await etcd.CallAsync("auth/user/list", new { }, Ct);

        Assert.Equal(["root"], EtcdGateway.Strings(users, "users"));
        Assert.Equal(
            ["/v3/auth/authenticate -", "/v3/auth/user/list first", "/v3/auth/authenticate -", "/v3/auth/user/list second"],
            handler.Requests.Select(r => $"{r.Path} {r.Token ?? "-"}"));
    }

    [Fact]
    public async Task CallAsync_TokenRejectedTwice_Throws()
    {
        var handler = new ScriptedHandler(
            Answer(HttpStatusCode.OK, """{"token":"first"}"""),
            Answer(HttpStatusCode.BadRequest, """{"message":"etcdserver: revision of auth store is old","code":3}"""),
            Answer(HttpStatusCode.OK, """{"token":"second"}"""),
            Answer(HttpStatusCode.BadRequest, """{"message":"etcdserver: revision of auth store is old","code":3}"""));
        var etcd = await EtcdGateway.SignInAsync(new HttpClient(handler), Backend, Ct);

        var e = await Assert.ThrowsAsync<EtcdException>(() => etcd.CallAsync("auth/user/list", new { }, Ct));

        Assert.Contains("auth store is old", e.Message, StringComparison.Ordinal);
        Assert.Equal(4, handler.Requests.Count);
    }

    [Fact]
    public async Task SignInAsync_FirstEndpointUnreachableOrUnavailable_UsesTheNextAndStaysThere()
    {
        var handler = new ScriptedHandler(
            _ => throw new HttpRequestException("Connection refused"),
            Answer(HttpStatusCode.OK, """{"token":"t"}"""),
            Answer(HttpStatusCode.OK, """{"version":"3.4.23"}"""));
        var etcd = await EtcdGateway.SignInAsync(new HttpClient(handler), Backend, Ct);

        await etcd.CallAsync("maintenance/status", new { }, Ct);

        Assert.Equal("http://10.0.0.2:2379", etcd.CurrentUrl);
        Assert.Equal(["10.0.0.1", "10.0.0.2", "10.0.0.2"], handler.Requests.Select(r => r.Host));
    }

    [Fact]
    public async Task CallAsync_NoEndpointAnswers_ThrowsNamingEachEndpoint()
    {
        var handler = new ScriptedHandler(
            _ => throw new HttpRequestException("Connection refused"),
            Answer(HttpStatusCode.ServiceUnavailable, """{"message":"etcdserver: no leader","code":14}"""));

        var e = await Assert.ThrowsAsync<HttpRequestException>(
            () => EtcdGateway.SignInAsync(new HttpClient(handler), Backend, Ct));

        Assert.Contains("http://10.0.0.1:2379: Connection refused", e.Message, StringComparison.Ordinal);
        Assert.Contains("http://10.0.0.2:2379: etcdserver: no leader", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallAsync_EtcdError_ThrowsWithoutTryingOtherEndpoints()
    {
        var handler = new ScriptedHandler(
            Answer(HttpStatusCode.OK, """{"token":"t"}"""),
            Answer(HttpStatusCode.PreconditionFailed, """{"error":"etcdserver: role name not found","message":"etcdserver: role name not found","code":9}"""));
        var etcd = await EtcdGateway.SignInAsync(new HttpClient(handler), Backend, Ct);

        var e = await Assert.ThrowsAsync<EtcdException>(() => etcd.CallAsync("auth/role/get", new { role = "x" }, Ct));

        Assert.Equal(9, e.Code);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task CallAsync_Body_IsJsonWithProtoFieldNames()
    {
        var handler = new ScriptedHandler(Answer(HttpStatusCode.OK, """{"token":"t"}"""), Answer(HttpStatusCode.OK, "{}"));
        var etcd = await EtcdGateway.SignInAsync(new HttpClient(handler), Backend, Ct);

        await etcd.CallAsync("lease/revoke", new { ID = "42", range_end = "AA==" }, Ct);

        Assert.Equal("""{"ID":"42","range_end":"AA=="}""", handler.Requests[^1].Body);
        Assert.Equal("""{"name":"root","password":"pw"}""", handler.Requests[0].Body);
    }

    private static Func<HttpRequestMessage, HttpResponseMessage> Answer(HttpStatusCode status, string json) =>
        _ => new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    private sealed record SeenRequest(string Host, string Path, string? Token, string Body);

    private sealed class ScriptedHandler(params Func<HttpRequestMessage, HttpResponseMessage>[] answers) : HttpMessageHandler
    {
        private int _next;

        public List<SeenRequest> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var token = request.Headers.TryGetValues("Authorization", out var values) ? values.Single() : null;
            var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            Requests.Add(new SeenRequest(request.RequestUri!.Host, request.RequestUri.AbsolutePath, token, body));
            return answers[_next++](request);
        }
    }
}
