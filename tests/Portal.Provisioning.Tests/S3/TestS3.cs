using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.S3;

namespace Portal.Provisioning.Tests.S3;

/// <summary>
/// The real Ceph RADOS Gateway the S3 driver tests run against, seen as the admin (raw Admin Ops calls) and
/// as an app (AWSSDK.S3 configured from a binding's credentials only).
/// </summary>
internal static class TestS3
{
    public const string EnvironmentVariable = "PORTAL_TEST_S3";

    // The admin's and raw signed calls: on a TLS gateway the tests' CA is the only trusted root (plain http never
    // reaches the callback, so a gateway without TLS needs no CA).
    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, errors) => TestBackends.Ca.Verifies(certificate, errors),
        },
    })
    { Timeout = TimeSpan.FromSeconds(60) };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The admin endpoint from <see cref="EnvironmentVariable"/>; fails the test when it is missing.</summary>
    public static BackendEndpoint Endpoint => TestBackends.Require("s3", EnvironmentVariable, "radosgw ceph-mon ceph-osd");

    /// <summary>The gateway's URL.</summary>
    public static Uri Url => S3Driver.EndpointUrl(Endpoint);

    /// <summary>Fails the test unless the gateway of <see cref="Endpoint"/> serves TLS (started with PORTAL_CA_DIR).</summary>
    public static void RequireTls()
    {
        if (!Endpoint.Tls)
        {
            Assert.Fail($"{EnvironmentVariable} names a gateway without tls=true: start it with PORTAL_CA_DIR set " +
                $"(the CA of {TestBackends.CaVariable}), as `ops/portal test` does.");
        }
    }

    /// <summary>
    /// One Admin Ops call (as the admin unless another key is given): the status and the JSON answer (null when
    /// there is none). A parameter with a null value is a bare flag such as <c>quota</c>.
    /// </summary>
    public static async Task<(HttpStatusCode Status, JsonElement? Body)> AdminAsync(
        HttpMethod method, string resource, (string Name, string? Value)[] parameters, string? accessKeyId = null, string? secret = null)
    {
        var backend = Endpoint;
        using var request = new HttpRequestMessage(method, RgwAdminOpsProvisioner.AdminUri(Url, resource, parameters));
        AwsSigV4.Sign(request, accessKeyId ?? backend.AdminUser, secret ?? backend.AdminPassword,
            S3Driver.Region(backend), "s3", DateTimeOffset.UtcNow);
        using var response = await Http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        JsonElement? body = null;
        if (text.Length > 0)
        {
            using var document = JsonDocument.Parse(text);
            body = document.RootElement.Clone();
        }

        return (response.StatusCode, body);
    }

    /// <summary>The instance's RGW user as the admin API shows it, or null when there is none.</summary>
    public static async Task<JsonElement?> UserAsync(Guid instanceId)
    {
        var (status, body) = await AdminAsync(HttpMethod.Get, "user", [("uid", UserId(instanceId))]);
        if (status == HttpStatusCode.NotFound)
        {
            return null;
        }

        Assert.Equal(HttpStatusCode.OK, status);
        return body;
    }

    /// <summary>The instance's bucket as the admin API shows it (with stats), or null when there is none.</summary>
    public static async Task<JsonElement?> BucketAsync(Guid instanceId)
    {
        var (status, body) = await AdminAsync(HttpMethod.Get, "bucket",
            [("bucket", $"{S3Names.Account(instanceId)}/{S3Names.Bucket(instanceId)}"), ("stats", "true")]);
        if (status == HttpStatusCode.NotFound)
        {
            return null;
        }

        Assert.Equal(HttpStatusCode.OK, status);
        return body;
    }

    /// <summary>The access key ids of the instance's user (empty when there is no user).</summary>
    public static async Task<List<string>> KeyIdsAsync(Guid instanceId) =>
        await UserAsync(instanceId) is { } user
            ? user.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("access_key").GetString()!).ToList()
            : [];

    /// <summary>Every metadata entry of a kind (<c>user</c>, <c>bucket</c>, <c>bucket.instance</c>) naming the instance.</summary>
    public static async Task<List<string>> MetadataOfAsync(string kind, Guid instanceId)
    {
        var (status, body) = await AdminAsync(HttpMethod.Get, $"metadata/{kind}", []);
        Assert.Equal(HttpStatusCode.OK, status);
        var id = instanceId.ToString("N");
        return body!.Value.EnumerateArray().Select(e => e.GetString()!).Where(e => e.Contains(id, StringComparison.Ordinal)).ToList();
    }

    public static string UserId(Guid instanceId) => RgwAdminOpsProvisioner.UserId(S3Names.Account(instanceId));

    /// <summary>
    /// An S3 client configured from a binding's credentials only, as the portal's docs tell apps to (plus the
    /// checksum switches AWSSDK.S3 4 needs against RGW). No retries, so a refusal shows at once. Over https it
    /// trusts the credentials' <c>ca.crt</c> alone (or <paramref name="trustedCaPem"/> instead), not the system's roots.
    /// </summary>
    public static AmazonS3Client AppClient(BindingCredentials credentials, string? secret = null, string? trustedCaPem = null)
    {
        var v = credentials.Values;
        var config = new AmazonS3Config
        {
            ServiceURL = v["endpointUrl"],
            AuthenticationRegion = v["region"],
            ForcePathStyle = bool.Parse(v["forcePathStyle"]),
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 0,
        };
        if (v["endpointUrl"].StartsWith("https://", StringComparison.Ordinal))
        {
            config.HttpClientFactory = new TrustingOnlyHttpClientFactory(trustedCaPem ?? v["ca.crt"]);
        }

        return new AmazonS3Client(new BasicAWSCredentials(v["accessKeyId"], secret ?? v["secretAccessKey"]), config);
    }

    /// <summary>The scheme of presigned URLs for the gateway: what its endpoint URL uses.</summary>
    public static Protocol UrlProtocol(BindingCredentials credentials) =>
        credentials.Values["endpointUrl"].StartsWith("https://", StringComparison.Ordinal) ? Protocol.HTTPS : Protocol.HTTP;

    public static Task PutAsync(IAmazonS3 s3, string bucket, string key, string content) =>
        s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = content }, Ct);

    /// <summary>Puts an object of <paramref name="size"/> bytes.</summary>
    public static async Task PutBytesAsync(IAmazonS3 s3, string bucket, string key, int size)
    {
        using var stream = new MemoryStream(new byte[size]);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = stream }, Ct);
    }

    public static async Task<string> GetAsync(IAmazonS3 s3, string bucket, string key)
    {
        using var response = await s3.GetObjectAsync(bucket, key, Ct);
        using var reader = new StreamReader(response.ResponseStream, Encoding.UTF8);
        return await reader.ReadToEndAsync(Ct);
    }

    /// <summary>The keys of the bucket's objects (SDK v4 gives null, not an empty list, for an empty bucket).</summary>
    public static async Task<List<string>> ListAsync(IAmazonS3 s3, string bucket)
    {
        var response = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }, Ct);
        return (response.S3Objects ?? []).Select(o => o.Key).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The S3 error code of a call that must fail, e.g. <c>AccessDenied</c>.</summary>
    public static async Task<string> ErrorCodeAsync(Func<Task> call)
    {
        var e = await Assert.ThrowsAnyAsync<AmazonS3Exception>(call);
        return e.ErrorCode;
    }

    /// <summary>
    /// An S3 request without body signed with a binding's key by hand: the status and RGW's error code (null on
    /// success). For RGW's <c>tenant:bucket</c> names, which AWSSDK.S3 escapes in the path in a way its own
    /// signature then does not match (RGW answers SignatureDoesNotMatch before it checks any permission).
    /// </summary>
    public static async Task<(HttpStatusCode Status, string? Code)> SignedAsync(
        HttpMethod method, string path, BindingCredentials credentials)
    {
        var v = credentials.Values;
        using var request = new HttpRequestMessage(method, new Uri(new Uri(v["endpointUrl"]), path));
        AwsSigV4.Sign(request, v["accessKeyId"], v["secretAccessKey"], v["region"], "s3", DateTimeOffset.UtcNow);
        using var response = await Http.SendAsync(request, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        var code = System.Text.RegularExpressions.Regex.Match(body, "<Code>([^<]*)</Code>");
        return (response.StatusCode, code.Success ? code.Groups[1].Value : null);
    }

    /// <summary>The status of a plain (unsigned by us) HTTP GET, e.g. of a presigned URL.</summary>
    public static async Task<HttpStatusCode> GetStatusAsync(string url)
    {
        using var response = await Http.GetAsync(url, Ct);
        return response.StatusCode;
    }

    public static string Text(long n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// HTTP clients for AWSSDK.S3 that trust one CA certificate (PEM) and nothing else, as an app given only the
    /// binding's ca.crt builds them: the chain must end at that certificate, and the host name must match.
    /// </summary>
    private sealed class TrustingOnlyHttpClientFactory(string caPem) : HttpClientFactory
    {
        public override HttpClient CreateHttpClient(IClientConfig clientConfig)
        {
            return new HttpClient(new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = CertificateAuthority.TrustOnly(caPem) },
            });
        }

        // One client per SDK client, disposed with it; never shared with a client trusting another CA.
        public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => true;

        public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

        public override string? GetConfigUniqueString(IClientConfig clientConfig) => null;
    }
}
