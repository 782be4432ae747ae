using Amazon.Runtime;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.Http;

namespace Portal.Provisioning.S3;

/// <summary>
/// HTTP clients for AWSSDK.S3 that trust one platform CA and nothing else (not the system's roots): the data plane
/// of a TLS backend (<see cref="BackendEndpoint.Tls"/>). The SDK caches the client per <c>AmazonS3Client</c> and
/// disposes it with that client, so a client made for one backend's CA never serves another backend.
/// </summary>
internal sealed class PlatformCaHttpClientFactory(CertificateAuthority ca) : HttpClientFactory
{
    /// <inheritdoc />
    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        ArgumentNullException.ThrowIfNull(clientConfig);
        var client = new HttpClient(PlatformCaHandler.Create(ca), disposeHandler: true);
        if (clientConfig.Timeout is { } timeout)
        {
            client.Timeout = timeout;
        }

        return client;
    }

    /// <inheritdoc />
    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => true;

    /// <inheritdoc />
    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    /// <summary>Null: the SDK caches the client per SDK client (never across backends) and disposes it with it.</summary>
    public override string? GetConfigUniqueString(IClientConfig clientConfig) => null;
}
