using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Amazon.S3;
using Amazon.S3.Model;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.S3;

namespace Portal.Provisioning.Tests.S3;

/// <summary>
/// The gateway over https (ops/backends/s3 started with PORTAL_CA_DIR): apps verify it with the binding's ca.crt
/// alone, the driver trusts the platform CA alone, and nothing speaks plain http to it.
/// </summary>
public sealed class S3TlsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BindAsync_TlsBackend_CredentialsCarryHttpsEndpointAndCa()
    {
        TestS3.RequireTls();
        await using var scope = new S3Scope();
        var instance = scope.NewInstance();

        var provisioned = await scope.Driver.ProvisionAsync(instance, Ct);
        var v = (await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct)).Values;

        var endpoint = TestS3.Endpoint;
        Assert.Equal(["endpointUrl", "region", "bucket", "accessKeyId", "secretAccessKey", "forcePathStyle", "ca.crt"], v.Keys);
        Assert.Equal($"https://{endpoint.Host}:{TestS3.Text(endpoint.Port)}", v["endpointUrl"]);
        Assert.Equal(v["endpointUrl"], provisioned.Outputs["endpointUrl"]);
        Assert.Equal(TestBackends.Ca.CertificatePem, v["ca.crt"]);
    }

    [Fact]
    public async Task BindAsync_TlsBackend_ClientTrustingCredentialsCaPutsAndGetsOthersFail()
    {
        TestS3.RequireTls();
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        var bucket = credentials.Values["bucket"];

        // The credentials alone (https endpoint and ca.crt) reach the gateway with its certificate verified.
        using (var s3 = TestS3.AppClient(credentials))
        {
            await TestS3.PutAsync(s3, bucket, "tls/hello.txt", "over https");
            Assert.Equal("over https", await TestS3.GetAsync(s3, bucket, "tls/hello.txt"));
            var url = await s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest
            {
                BucketName = bucket,
                Key = "tls/hello.txt",
                Verb = HttpVerb.GET,
                Protocol = TestS3.UrlProtocol(credentials),
                Expires = DateTime.UtcNow.AddMinutes(10),
            });
            Assert.StartsWith("https://", url, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, await TestS3.GetStatusAsync(url));
        }

        // A client that trusts another CA refuses the gateway's certificate in the handshake.
        using var foreignCa = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));
        using (var foreign = TestS3.AppClient(credentials, trustedCaPem: foreignCa.CertificatePem))
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(() => TestS3.GetAsync(foreign, bucket, "tls/hello.txt"));
            Assert.True(Chain(e).Any(x => x is AuthenticationException), e.ToString());
        }

        // No plain http on the gateway port: an http request gets no S3 answer at all.
        var plain = credentials with
        {
            Values = new Dictionary<string, string>(credentials.Values)
            {
                ["endpointUrl"] = credentials.Values["endpointUrl"].Replace("https://", "http://", StringComparison.Ordinal),
            },
        };
        using var http = TestS3.AppClient(plain);
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => TestS3.GetAsync(http, bucket, "tls/hello.txt"));
        Assert.True(Chain(refused).Any(x => x is HttpRequestException or IOException or SocketException), refused.ToString());
    }

    [Fact]
    public async Task TestBackendAsync_TlsBackendWithForeignCa_ReportsUnhealthy()
    {
        TestS3.RequireTls();
        using var foreignCa = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));

        var report = await S3Scope.NewDriver().TestBackendAsync(TestS3.Endpoint with { PlatformCa = foreignCa }, Ct);

        // The driver trusts the backend's platform CA and nothing else, so another CA's view fails the handshake.
        Assert.False(report.Healthy);
        Assert.Contains("not reachable", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProvisionAsync_TlsBackendWithForeignCa_CreatesNothing()
    {
        TestS3.RequireTls();
        using var foreignCa = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));
        await using var scope = new S3Scope();
        var instance = scope.NewInstance(backend: TestS3.Endpoint with { PlatformCa = foreignCa });

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => scope.Driver.ProvisionAsync(instance, Ct));

        Assert.True(Chain(e).Any(x => x is AuthenticationException), e.ToString());
        Assert.Null(await TestS3.UserAsync(instance.InstanceId));
    }

    [Fact]
    public async Task TestBackendAsync_TlsBackendWithoutCa_ReportsTheMissingCa()
    {
        TestS3.RequireTls();

        var report = await S3Scope.NewDriver().TestBackendAsync(TestS3.Endpoint with { PlatformCa = null }, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("needs the platform CA", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_TlsBackend_ReportsHttpsUrl()
    {
        TestS3.RequireTls();

        var report = await S3Scope.NewDriver().TestBackendAsync(TestS3.Endpoint, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.Contains("RGW Admin Ops at https://", report.Message, StringComparison.Ordinal);
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            yield return x;
        }
    }
}
