using System.Net;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>A client certificate needs a backend that serves TLS: asking for one elsewhere is a 400 that makes nothing.</summary>
public sealed class ClientCertificateBackendTests(ClientCertificateBackendTests.Fixture fixture) : IClassFixture<ClientCertificateBackendTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    [Fact]
    public async Task ClientCertificate_OnABackendWithoutTls_IsA400_AndMakesNoBinding()
    {
        var (platform, _) = await fixture.PlatformAccountAsync("platform-plain");
        var (api, teamId) = await fixture.DemoDeveloperAsync();

        // The real server, registered without tls=true, alone at its own site.
        await RegisterAtOwnSiteAsync(platform, "pg-plain", "plain", new Dictionary<string, string>());

        var (id, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", "plain-db", site: "plain");
        var (status, problem, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/bindings", new { appName = "batch", clientCertificate = true });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("without TLS", problem!["errors"]!["clientCertificate"]![0]!.GetValue<string>());
        Assert.Empty((await api.GetOkAsync($"/api/v1/instances/{id}/bindings")).AsArray());

        // Without a certificate the same request works.
        var (_, credentials) = await api.BindReadyAsync(id, "batch");
        Assert.NotNull(credentials["password"]);
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task BackendRegisteredWithTls_ThroughTheApi_IssuesClientCertificates()
    {
        var (platform, _) = await fixture.PlatformAccountAsync("platform-tls");
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        // tls is a setting of the kinds whose drivers talk TLS, and of no other.
        var (refused, problem, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/backends", new
        {
            name = "prom-tls", kind = "monitoring", host = "127.0.0.1", port = 9090, adminUser = "portal", adminPassword = "x",
            settings = new Dictionary<string, string> { ["tls"] = "true" },
        });
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Contains("Unknown setting tls", problem!["errors"]!["settings"]![0]!.GetValue<string>());

        var backend = await RegisterAtOwnSiteAsync(platform, "pg-tls", "secure", new Dictionary<string, string> { ["tls"] = "true" });
        Assert.Equal("true", backend["settings"]!["tls"]!.GetValue<string>());

        var (id, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", "secure-db", site: "secure");
        var (_, credentials) = await api.BindReadyAsync(id, "batch", clientCertificate: true);
        Assert.Contains("BEGIN CERTIFICATE", credentials["tls.crt"]!.GetValue<string>());
        Assert.Contains("sslmode=verify-full", credentials["uri"]!.GetValue<string>());
        await api.DeleteReadyAsync(id);
    }

    /// <summary>Registers the real PostgreSQL server once more, alone at a site of its own, and offers it.</summary>
    private static async Task<System.Text.Json.Nodes.JsonNode> RegisterAtOwnSiteAsync(
        ApiClient platform, string name, string site, Dictionary<string, string> settings)
    {
        var real = TestEnvironment.Backend;
        var (created, backend, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/backends", new
        {
            name, kind = "postgresql", host = real.Host, port = real.Port, adminUser = real.Username, adminPassword = real.Password, site, settings,
        });
        Assert.True(created == HttpStatusCode.Created, backend?.ToJsonString());
        var offering = (await platform.GetOkAsync("/api/v1/offerings")).AsArray().Single(o => o!["key"]!.GetValue<string>() == "postgresql")!;
        var ids = offering["backendIds"]!.AsArray().Select(i => i!.GetValue<string>()).Append(backend!["id"]!.GetValue<string>()).ToArray();
        var (set, setBody, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends", new { backendIds = ids });
        Assert.True(set == HttpStatusCode.OK, setBody?.ToJsonString());
        return backend;
    }
}
