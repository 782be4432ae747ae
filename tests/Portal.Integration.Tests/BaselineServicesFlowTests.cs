using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using System.Text;
using System.Text.Json.Nodes;
using dotnet_etcd;
using Portal.Application.Teams;
using Portal.Testing;
using static Portal.Integration.Tests.AppConnections;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using StackExchange.Redis;

namespace Portal.Integration.Tests;

/// <summary>
/// Messaging, configuration store, cache and object storage through the REST API on the real servers that
/// <c>ops/portal test</c> starts: request → Ready → bind → the app's own client library uses the
/// credentials → unbind refuses them → delete.
/// </summary>
public sealed class BaselineServicesFlowTests(BaselineServicesFlowTests.Fixture fixture) : IClassFixture<BaselineServicesFlowTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RabbitMq_BindingPublishesAndConsumes_AndIsRefusedAfterUnbind()
    {
        TestEnvironment.BackendOf("rabbitmq");
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "rabbitmq", "small", "orders-events");
        var (bindingId, credentials) = await api.BindReadyAsync(id, "orders-api");
        Assert.Equal(["host", "port", "vhost", "username", "password", "uri", "managementUrl", "ca.crt"], credentials.AsObject().Select(p => p.Key));
        Assert.StartsWith("amqps://", Value(credentials, "uri"));

        // The app trusts the binding's ca.crt (the platform CA) alone.
        var factory = AppConnections.RabbitMq(credentials);
        await using (var connection = await factory.CreateConnectionAsync(Ct))
        await using (var channel = await connection.CreateChannelAsync(cancellationToken: Ct))
        {
            await channel.QueueDeclareAsync("orders", durable: false, exclusive: false, autoDelete: false, cancellationToken: Ct);
            await channel.BasicPublishAsync("", "orders", Encoding.UTF8.GetBytes("order 42"), Ct);
            BasicGetResult? got = null;
            for (var i = 0; i < 50 && got is null; i++)
            {
                got = await channel.BasicGetAsync("orders", autoAck: true, Ct);
                if (got is null)
                {
                    await Task.Delay(100, Ct);
                }
            }

            Assert.Equal("order 42", Encoding.UTF8.GetString(got!.Body.Span));
        }

        await api.UnbindAsync(id, bindingId);
        await Assert.ThrowsAnyAsync<BrokerUnreachableException>(() => factory.CreateConnectionAsync(Ct));
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task Etcd_BindingReadsAndWritesUnderItsPrefixOnly_AndIsRefusedAfterUnbind()
    {
        TestEnvironment.BackendOf("etcd");
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "etcd", "standard", "orders-config");
        var (bindingId, credentials) = await api.BindReadyAsync(id, "orders-api");
        // The server asks every client for a certificate from the platform CA (etcd --client-cert-auth).
        Assert.Equal(["endpoints", "host", "port", "username", "password", "prefix", "ca.crt", "tls.crt", "tls.key"],
            credentials.AsObject().Select(p => p.Key));
        var prefix = Value(credentials, "prefix");
        Assert.Equal($"/portal/{id:N}/", prefix);

        using (var app = AppConnections.Etcd(credentials))
        {
            await app.PutAsync(prefix + "feature/checkout", "on", cancellationToken: Ct);
            Assert.Equal("on", await app.GetValAsync(prefix + "feature/checkout", cancellationToken: Ct));
            var denied = await Assert.ThrowsAnyAsync<Exception>(() => app.PutAsync("/portal/elsewhere", "x", cancellationToken: Ct));
            Assert.Contains("permission denied", denied.Message);
        }

        await api.UnbindAsync(id, bindingId);
        using (var revoked = AppConnections.Etcd(credentials))
        {
            var refused = await Assert.ThrowsAnyAsync<Exception>(() => revoked.GetValAsync(prefix + "feature/checkout", cancellationToken: Ct));
            Assert.Contains("authentication failed", refused.Message);
        }

        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task Redis_BindingSetsAndGetsUnderItsPrefixOnly_AndIsRefusedAfterUnbind()
    {
        TestEnvironment.BackendOf("redis");
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "redis", "shared", "orders-cache");
        var (bindingId, credentials) = await api.BindReadyAsync(id, "orders-api");
        Assert.Equal(["host", "port", "username", "password", "prefix", "uri", "ca.crt"], credentials.AsObject().Select(p => p.Key));
        Assert.StartsWith("rediss://", Value(credentials, "uri"));
        var prefix = Value(credentials, "prefix");

        var options = AppConnections.Redis(credentials);
        await using (var app = await ConnectionMultiplexer.ConnectAsync(options))
        {
            var db = app.GetDatabase();
            Assert.True(await db.StringSetAsync(prefix + "cart:7", "3 items"));
            Assert.Equal("3 items", (string?)await db.StringGetAsync(prefix + "cart:7"));
            var denied = await Assert.ThrowsAsync<RedisServerException>(() => db.StringGetAsync("someone-else:cart"));
            Assert.StartsWith("NOPERM", denied.Message);
        }

        await api.UnbindAsync(id, bindingId);
        await Assert.ThrowsAnyAsync<RedisConnectionException>(() => ConnectionMultiplexer.ConnectAsync(options));
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task S3_BindingPutsListsGetsAndDeletesInItsBucket_AndIsRefusedAfterUnbind()
    {
        TestEnvironment.BackendOf("s3");
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "s3", "small", "orders-files");
        var (bindingId, credentials) = await api.BindReadyAsync(id, "orders-api");
        Assert.Equal(["endpointUrl", "region", "bucket", "accessKeyId", "secretAccessKey", "forcePathStyle", "ca.crt"], credentials.AsObject().Select(p => p.Key));
        var bucket = Value(credentials, "bucket");
        Assert.StartsWith("https://", Value(credentials, "endpointUrl"), StringComparison.Ordinal);
        using var ca = X509Certificate2.CreateFromPem(Value(credentials, "ca.crt"));

        IAmazonS3 Client() => new AmazonS3Client(
            new BasicAWSCredentials(Value(credentials, "accessKeyId"), Value(credentials, "secretAccessKey")),
            new AmazonS3Config
            {
                ServiceURL = Value(credentials, "endpointUrl"),
                AuthenticationRegion = Value(credentials, "region"),
                ForcePathStyle = bool.Parse(Value(credentials, "forcePathStyle")),
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
                ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
                MaxErrorRetry = 0,
                HttpClientFactory = new CaOnlyHttpClientFactory(ca),
            });
        using (var s3 = Client())
        {
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "invoices/42.txt", ContentBody = "invoice 42" }, Ct);
            var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }, Ct);
            Assert.Equal(["invoices/42.txt"], listed.S3Objects.Select(o => o.Key));
            using var got = await s3.GetObjectAsync(bucket, "invoices/42.txt", Ct);
            Assert.Equal("invoice 42", await new StreamReader(got.ResponseStream).ReadToEndAsync(Ct));
            await s3.DeleteObjectAsync(bucket, "invoices/42.txt", Ct);
        }

        await api.UnbindAsync(id, bindingId);
        using (var revoked = Client())
        {
            var refused = await Assert.ThrowsAsync<AmazonS3Exception>(() => revoked.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }, Ct));
            Assert.Equal("InvalidAccessKeyId", refused.ErrorCode);
        }

        await api.DeleteReadyAsync(id);
    }

    /// <summary>The AWS SDK's HTTP client as an app given only ca.crt builds it: that CA is the one trusted root.</summary>
    private sealed class CaOnlyHttpClientFactory(X509Certificate2 ca) : HttpClientFactory
    {
        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, server, _, _) => TrustsOnly(ca, server) },
        });

        public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => true;

        public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

        public override string? GetConfigUniqueString(IClientConfig clientConfig) => null;
    }
}
