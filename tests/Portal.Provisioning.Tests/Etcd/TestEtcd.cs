using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using dotnet_etcd;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.Etcd;

namespace Portal.Provisioning.Tests.Etcd;

/// <summary>The real etcd backend the integration tests run against, and clients for it as apps would use them.</summary>
/// <remarks>
/// With <c>PORTAL_CA_DIR</c>, ops/backends/etcd serves TLS with <c>--client-cert-auth</c>: every client, the tests'
/// own admin and anonymous ones included, presents a certificate from the platform CA and trusts only that CA.
/// </remarks>
internal static class TestEtcd
{
    public const string EnvironmentVariable = "PORTAL_TEST_ETCD";

    /// <summary>
    /// The xunit collection of every test class that uses the server, so they run one at a time: etcd refuses a
    /// request when another client changed users or roles between its check and its apply ("revision of auth store
    /// is old"). The Go client retries that by itself, dotnet-etcd does not, and tests in parallel change auth all
    /// the time.
    /// </summary>
    public const string Collection = "etcd server";

    /// <summary>Common Name of the anonymous clients' certificate: no etcd user, so it grants nothing by itself.</summary>
    private const string NobodyCn = "portal-test-nobody";

    /// <summary>The admin endpoint from <see cref="EnvironmentVariable"/>; fails the test when it is missing.</summary>
    public static BackendEndpoint Endpoint => TestBackends.Require("etcd", EnvironmentVariable, "etcd-server etcd-client");

    /// <summary>The client URL of <see cref="Endpoint"/>.</summary>
    public static string Url => $"{(Endpoint.Tls ? "https" : "http")}://{Endpoint.Host}:{Endpoint.Port}";

    public static EtcdDriver NewDriver(int keyPageSize = 1000) =>
        new(new SingleClientFactory(), NullLogger<EtcdDriver>.Instance) { KeyPageSize = keyPageSize };

    /// <summary>A gRPC client signed in as root (the library authenticates and renews the token itself).</summary>
    public static EtcdClient AdminClient() =>
        Endpoint.Tls
            ? PasswordClient(Url, Endpoint.AdminUser, Endpoint.AdminPassword, TestBackends.Ca.CertificatePem,
                TestBackends.Ca.IssueClient(NobodyCn, TimeSpan.FromHours(1)).ToX509())
            : new(Url, Endpoint.AdminUser, Endpoint.AdminPassword);

    /// <summary>
    /// A gRPC client signed in with a binding's credentials, as an app would build it: on a TLS backend with the
    /// binding's ca.crt as the only trusted root and its tls.crt/tls.key as client certificate, besides the password.
    /// </summary>
    public static EtcdClient AppClient(BindingCredentials credentials)
    {
        var v = credentials.Values;
        return v.ContainsKey("tls.crt")
            ? PasswordClient(v["endpoints"], v["username"], v["password"], v["ca.crt"], ClientCertificate(credentials))
            : new(v["endpoints"], v["username"], v["password"]);
    }

    /// <summary>
    /// A gRPC client that sends no password or token of its own (tokens are passed per call). On a TLS backend it
    /// presents <paramref name="certificate"/> (default: one whose CN is no etcd user) and trusts
    /// <paramref name="trustedCaPem"/> (default: the platform CA).
    /// </summary>
    public static EtcdClient AnonymousClient(string? url = null, X509Certificate2? certificate = null, string? trustedCaPem = null)
    {
        if (!Endpoint.Tls)
        {
            return new(url ?? Url);
        }

        certificate ??= TestBackends.Ca.IssueClient(NobodyCn, TimeSpan.FromHours(1)).ToX509();
        return CertificateClient(url ?? Url, certificate, trustedCaPem ?? TestBackends.Ca.CertificatePem);
    }

    /// <summary>A client authenticated by its certificate alone (etcd takes the CN as the user), or none (null).</summary>
    public static EtcdClient CertificateClient(string url, X509Certificate2? certificate, string trustedCaPem) =>
        new(url, configureSslOptions: ssl => Configure(ssl, certificate, trustedCaPem));

    /// <summary>The binding's tls.crt with tls.key, as an app loads them.</summary>
    public static X509Certificate2 ClientCertificate(BindingCredentials credentials) =>
        X509Certificate2.CreateFromPem(credentials.Values["tls.crt"], credentials.Values["tls.key"]);

    private static EtcdClient PasswordClient(string url, string user, string password, string trustedCaPem, X509Certificate2 certificate) =>
        new(url, user, password, configureChannelOptions: options =>
        {
            // The library's static resolver takes the scheme from the channel credentials; the handler does the TLS.
            options.Credentials = ChannelCredentials.SecureSsl;
            var handler = new SocketsHttpHandler();
            Configure(handler.SslOptions, certificate, trustedCaPem);
            options.HttpHandler = handler;
        });

    private static void Configure(SslClientAuthenticationOptions ssl, X509Certificate2? certificate, string trustedCaPem)
    {
        var root = X509Certificate2.CreateFromPem(trustedCaPem);
        ssl.ApplicationProtocols = [SslApplicationProtocol.Http2];
        ssl.ClientCertificates = certificate is null ? null : new X509CertificateCollection { certificate };
        // Server verification on, against the given CA only (as an app does with the binding's ca.crt).
        ssl.RemoteCertificateValidationCallback = (_, presented, _, errors) => CertificateAuthority.ChainsTo(root, presented, errors);
    }

    /// <summary>The one <see cref="HttpClient"/> every test driver shares, as the DI factory would hand out.</summary>
    private sealed class SingleClientFactory : IHttpClientFactory
    {
        private static readonly HttpClient Client = new();

        public HttpClient CreateClient(string name) => Client;
    }
}
