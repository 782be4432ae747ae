using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Text.Json.Nodes;
using Portal.Application.Audit;
using Portal.Application.Instances;
using Portal.Application.Teams;
using Portal.Testing;
using YamlDotNet.RepresentationModel;

namespace Portal.Integration.Tests;

/// <summary>
/// A real PostgreSQL binding rendered by <c>GET /api/v1/bindings/{id}/credentials?format=…</c>, each format read
/// back with a real parser (System.Text.Json, YamlDotNet, bash for .env, a tar reader), and every download audited.
/// </summary>
public sealed class CredentialFormatsTests(CredentialFormatsTests.Fixture fixture) : IClassFixture<CredentialFormatsTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EveryFormat_ParsesWithARealParser_AndCarriesTheCredentials()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (instanceId, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", "orders-db");
        var (bindingId, credentials) = await api.BindReadyAsync(instanceId, "orders-api");
        var password = credentials["password"]!.GetValue<string>();
        var uri = credentials["uri"]!.GetValue<string>();

        // Every rendering holds the credentials: none may stay in a browser or proxy cache.
        async Task<HttpResponseMessage> GetAsync(string format)
        {
            var response = await api.Http.GetAsync($"/api/v1/bindings/{bindingId}/credentials?format={format}", Ct);
            Assert.True(response.Headers.CacheControl?.NoStore == true, $"{format}: Cache-Control is '{response.Headers.CacheControl}'");
            return response;
        }

        using (var plain = await api.Http.GetAsync($"/api/v1/instances/{instanceId}/bindings/{bindingId}/credentials", Ct))
        {
            Assert.True(plain.Headers.CacheControl?.NoStore == true, $"credentials: Cache-Control is '{plain.Headers.CacheControl}'");
        }

        // JSON: the Open Service Broker credentials object.
        using (var json = await GetAsync("json"))
        {
            var body = JsonNode.Parse(await json.Content.ReadAsStringAsync(Ct))!;
            Assert.Equal(password, body["credentials"]!["password"]!.GetValue<string>());
        }

        // VCAP_SERVICES, as a Cloud Foundry app reads it.
        using (var vcap = await GetAsync("vcap"))
        {
            var service = JsonNode.Parse(await vcap.Content.ReadAsStringAsync(Ct))!["postgresql"]![0]!;
            Assert.Equal("small", service["plan"]!.GetValue<string>());
            Assert.Equal("orders-db", service["name"]!.GetValue<string>());
            Assert.Contains("postgresql", service["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
            Assert.Equal(uri, service["credentials"]!["uri"]!.GetValue<string>());
        }

        // A Kubernetes Secret following servicebinding.io.
        using (var k8s = await GetAsync("k8s"))
        {
            var yaml = new YamlStream();
            yaml.Load(new StringReader(await k8s.Content.ReadAsStringAsync(Ct)));
            var root = (YamlMappingNode)yaml.Documents[0].RootNode;
            Assert.Equal("Secret", root["kind"].ToString());
            Assert.Equal("servicebinding.io/postgresql", root["type"].ToString());
            Assert.Equal("orders-api-orders-db", ((YamlMappingNode)root["metadata"])["name"].ToString());
            var data = (YamlMappingNode)root["stringData"];
            Assert.Equal("postgresql", data["type"].ToString());
            Assert.Equal("portal", data["provider"].ToString());
            Assert.Equal(password, data["password"].ToString());
            Assert.Equal(uri, data["uri"].ToString());
        }

        // .env, as a shell (or docker compose) reads it.
        using (var env = await GetAsync("env"))
        {
            var file = Path.Combine(Path.GetTempPath(), $"portal-{Guid.NewGuid():N}.env");
            await File.WriteAllTextAsync(file, await env.Content.ReadAsStringAsync(Ct), Ct);
            try
            {
                var shell = Process.Start(new ProcessStartInfo("bash", ["-c", $"set -a; . '{file}'; printf '%s\\n%s' \"$PORTAL_ORDERS_DB_PASSWORD\" \"$PORTAL_ORDERS_DB_URI\""])
                {
                    RedirectStandardOutput = true,
                })!;
                var output = await shell.StandardOutput.ReadToEndAsync(Ct);
                await shell.WaitForExitAsync(Ct);
                Assert.Equal($"{password}\n{uri}", output);
            }
            finally
            {
                File.Delete(file);
            }
        }

        // The SERVICE_BINDING_ROOT directory tree: one file per entry.
        using (var tar = await GetAsync("tar"))
        {
            Assert.Equal("application/gzip", tar.Content.Headers.ContentType?.MediaType);
            var files = new Dictionary<string, string>();
            await using var gzip = new GZipStream(await tar.Content.ReadAsStreamAsync(Ct), CompressionMode.Decompress);
            await using var reader = new TarReader(gzip);
            while (await reader.GetNextEntryAsync(cancellationToken: Ct) is { } entry)
            {
                if (entry.EntryType == TarEntryType.RegularFile)
                {
                    Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, entry.Mode);
                    files[entry.Name] = await new StreamReader(entry.DataStream!).ReadToEndAsync(Ct);
                }
            }

            Assert.Equal("postgresql", files["orders-api-orders-db/type"]);
            Assert.Equal(password, files["orders-api-orders-db/password"]);
            Assert.Equal(uri, files["orders-api-orders-db/uri"]);
        }

        // Bad format: Problem Details; every download is on the audit trail.
        using (var bad = await GetAsync("xml"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        var admin = await fixture.AdminAsync();
        var audit = await fixture.RunAsync<ListAuditEventsHandler, Page<AuditEventView>>(
            h => h.HandleAsync(admin, new AuditQuery(ObjectId: bindingId.ToString(), Action: "binding.credentials-downloaded")));
        Assert.Equal(5, audit.Items.Count);
    }
}
