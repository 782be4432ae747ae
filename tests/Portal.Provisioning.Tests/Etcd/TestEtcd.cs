using dotnet_etcd;
using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.Etcd;

namespace Portal.Provisioning.Tests.Etcd;

/// <summary>The real etcd backend the integration tests run against, and clients for it as apps would use them.</summary>
internal static class TestEtcd
{
    public const string EnvironmentVariable = "PORTAL_TEST_ETCD";

    /// <summary>The admin endpoint from <see cref="EnvironmentVariable"/>; fails the test when it is missing.</summary>
    public static BackendEndpoint Endpoint => TestBackends.Require("etcd", EnvironmentVariable, "etcd-server etcd-client");

    /// <summary>The client URL of <see cref="Endpoint"/>.</summary>
    public static string Url => $"http://{Endpoint.Host}:{Endpoint.Port}";

    public static EtcdDriver NewDriver(int keyPageSize = 1000) =>
        new(new SingleClientFactory(), NullLogger<EtcdDriver>.Instance) { KeyPageSize = keyPageSize };

    /// <summary>A gRPC client signed in as root (the library authenticates and renews the token itself).</summary>
    public static EtcdClient AdminClient() => new(Url, Endpoint.AdminUser, Endpoint.AdminPassword);

    /// <summary>A gRPC client signed in with a binding's credentials, as an app would build it.</summary>
    public static EtcdClient AppClient(BindingCredentials credentials) =>
        new(credentials.Values["endpoints"], credentials.Values["username"], credentials.Values["password"]);

    /// <summary>A gRPC client that sends no credentials (tokens are passed per call).</summary>
    public static EtcdClient AnonymousClient(string? url = null) => new(url ?? Url);

    /// <summary>The one <see cref="HttpClient"/> every test driver shares, as the DI factory would hand out.</summary>
    private sealed class SingleClientFactory : IHttpClientFactory
    {
        private static readonly HttpClient Client = new();

        public HttpClient CreateClient(string name) => Client;
    }
}
