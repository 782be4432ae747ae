using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using dotnet_etcd;
using Etcdserverpb;
using Microsoft.AspNetCore.Hosting;
using Npgsql;
using Portal.Application.Reconcile;
using Portal.Application.Teams;
using Portal.Provisioning;
using Portal.Provisioning.Certificates;
using Portal.Testing;
using static Portal.Integration.Tests.AppConnections;

namespace Portal.Integration.Tests;

/// <summary>
/// Drift through the REST API on the real servers: a database, user or key-prefix role removed by hand with the server's
/// own admin tools is found by one reconcile (Drifted, the differences shown, audited), a repair makes the instance Ready,
/// and the binding's unchanged credentials work again; the recurring run flags exactly what drifted.
/// </summary>
public sealed class DriftTests(DriftTests.Fixture fixture) : IClassFixture<DriftTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // The tests run reconcile themselves; a scheduled run in between would make the outcome theirs.
            builder.UseSetting("Reconcile:Schedule", Hangfire.Cron.Never());
            // A repair that fails shows it after its retries within seconds, not the default 25 s.
            builder.UseSetting("Jobs:RetryBaseDelay", "00:00:00.2");
            // The recurring-run test alone requests ten instances of every kind; the class shares one team.
            builder.UseSetting("Quotas:Defaults:MaxInstances", "100");
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Suffix() => Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Reconcile_DatabaseDroppedByHand_DriftedAndRepairBringsTheSameCredentialsBack()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", $"drift-db-{Suffix()}");
        var (bindingId, credentials) = await api.BindReadyAsync(id, "orders-api");
        await RoundTripAsync("postgresql", credentials, Ct);
        var clean = await ReconcileAsync(api, id);
        Assert.Equal("Ready", clean["state"]!.GetValue<string>());
        Assert.Empty(clean["differences"]!.AsArray());
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/repair")).Status);

        // By hand, as a DBA would: sessions of the database are ended by FORCE.
        await BackendSqlAsync($"DROP DATABASE \"{Value(credentials, "database")}\" WITH (FORCE)");
        await Assert.ThrowsAsync<PostgresException>(() => RoundTripAsync("postgresql", credentials, Ct));

        await DriftedAsync(api, id, $"is left without its database pi_{id:N}");
        await AssertDriftAuditedAsync(id, $"is left without its database pi_{id:N}");
        var repaired = await RepairAsync(api, id);

        Assert.Contains(RepairLines(repaired), l => l.Contains("Database", StringComparison.Ordinal) && l.Contains("is ready", StringComparison.Ordinal));
        var after = await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}/credentials");
        Assert.Equal(Value(credentials, "password"), Value(after["credentials"]!, "password"));
        await RoundTripAsync("postgresql", credentials, Ct);
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task Repair_LoginRoleDroppedByHand_RecreatesItWithItsPasswordAndKeepsTheData()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", $"drift-role-{Suffix()}");
        var (bindingId, credentials) = await api.BindReadyAsync(id, "orders-api");
        await using (var app = await AppClients.OpenPostgresAsync(key => credentials[key]?.GetValue<string>(), Ct))
        await using (var create = new NpgsqlCommand("CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders VALUES (42, 'kept')", app))
        {
            await create.ExecuteNonQueryAsync(Ct);
        }

        var role = Value(credentials, "username");
        await BackendSqlAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'; DROP ROLE \"{role}\"");
        await Assert.ThrowsAsync<PostgresException>(() => AppClients.OpenPostgresAsync(key => credentials[key]?.GetValue<string>(), Ct));

        await DriftedAsync(api, id, "binding orders-api: the credentials of generation 0 are gone from the backend");
        var repaired = await RepairAsync(api, id);

        Assert.Contains("Binding orders-api: generation 0 re-created with the secret it had", RepairLines(repaired));
        var after = await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}/credentials");
        Assert.Equal(Value(credentials, "password"), Value(after["credentials"]!, "password"));
        await using (var app = await AppClients.OpenPostgresAsync(key => credentials[key]?.GetValue<string>(), Ct))
        await using (var read = new NpgsqlCommand("SELECT item FROM orders WHERE id = 42", app))
        {
            Assert.Equal("kept", await read.ExecuteScalarAsync(Ct));
        }

        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task Reconcile_RabbitMqUserDeletedByHand_DriftedAndRepairBringsTheSameCredentialsBack()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "rabbitmq", "small", $"drift-events-{Suffix()}");
        var (bindingId, credentials) = await api.BindReadyAsync(id, "orders-api");
        await RoundTripAsync("rabbitmq", credentials, Ct);

        await RabbitMqAdminDeleteAsync("users", Value(credentials, "username"));
        await Assert.ThrowsAnyAsync<Exception>(() => RoundTripAsync("rabbitmq", credentials, Ct));

        await DriftedAsync(api, id, "binding orders-api: the credentials of generation 0 are gone from the backend");
        await AssertDriftAuditedAsync(id, "binding orders-api: the credentials of generation 0 are gone from the backend");
        var repaired = await RepairAsync(api, id);

        Assert.Contains("Binding orders-api: generation 0 re-created with the secret it had", RepairLines(repaired));
        var after = await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}/credentials");
        Assert.Equal(Value(credentials, "password"), Value(after["credentials"]!, "password"));
        await RoundTripAsync("rabbitmq", credentials, Ct);
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task Repair_RabbitMqVhostDeletedByHand_GrantsTheSurvivingUserAgainAndEndsTheOverlap()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "rabbitmq", "small", $"drift-vhost-{Suffix()}");
        var (bindingId, previous) = await api.BindReadyAsync(id, "orders-api");
        var credentials = await RotateWithOverlapAsync(api, id, bindingId);
        await RoundTripAsync("rabbitmq", previous, Ct);

        // RabbitMQ keeps the users when their vhost goes, but their permissions on the vhost go with it.
        await RabbitMqAdminDeleteAsync("vhosts", Value(credentials, "vhost"));
        await Assert.ThrowsAnyAsync<Exception>(() => RoundTripAsync("rabbitmq", credentials, Ct));

        await DriftedAsync(api, id, "the instance's resources are gone from the backend");
        var repaired = await RepairAsync(api, id);

        Assert.Contains("Binding orders-api: generation 1 applied again with the secret it had", RepairLines(repaired));
        await RoundTripAsync("rabbitmq", credentials, Ct);
        // The previous generation's password is not kept, so it cannot be granted again: its overlap ended.
        var binding = await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}");
        Assert.Null(binding["retiringGeneration"]);
        await Assert.ThrowsAnyAsync<Exception>(() => RoundTripAsync("rabbitmq", previous, Ct));
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task Reconcile_EtcdPrefixRoleDeletedByHand_DriftedAndRepairBringsTheSameCredentialsBack()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "etcd", "standard", $"drift-config-{Suffix()}");
        var (bindingId, credentials) = await api.BindReadyAsync(id, "orders-api");
        await RoundTripAsync("etcd", credentials, Ct);

        using (var admin = EtcdAdmin())
        {
            await admin.RoleDeleteAsync(new AuthRoleDeleteRequest { Role = $"pi_{id:N}" }, cancellationToken: Ct);
        }

        var denied = await Assert.ThrowsAnyAsync<Exception>(() => RoundTripAsync("etcd", credentials, Ct));
        Assert.Contains("permission denied", denied.Message, StringComparison.Ordinal);

        await DriftedAsync(api, id, "the instance's resources are gone from the backend");
        await AssertDriftAuditedAsync(id, "the instance's resources are gone from the backend");
        var repaired = await RepairAsync(api, id);

        // etcd took the deleted role from the user, which is still there: it is granted the new role again.
        Assert.Contains("Binding orders-api: generation 0 applied again with the secret it had", RepairLines(repaired));
        var after = await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}/credentials");
        Assert.Equal(Value(credentials, "password"), Value(after["credentials"]!, "password"));
        await RoundTripAsync("etcd", credentials, Ct);
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task ReconcileJob_OneRun_MarksTheDriftedInstanceAndLeavesFreshInstancesOfEveryKindReady()
    {
        await fixture.AllowEgressAsync("127.0.0.1"); // the monitoring instance's target
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var fresh = new List<Guid>();
        foreach (var (kind, plan) in new[] { ("postgresql", "small"), ("rabbitmq", "small"), ("etcd", "standard"), ("redis", "shared"), ("s3", "small"), ("logging", "week") })
        {
            var (id, _) = await api.RequestReadyAsync(teamId, kind, plan, $"fresh-{kind}-{Suffix()}");
            await api.BindReadyAsync(id, "orders-api");
            fresh.Add(id);
        }

        // Bindings of every shape the comparison must accept: a client certificate, and a rotation's overlap (two
        // generations of one binding working at once).
        var (certificateId, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", $"fresh-cert-{Suffix()}");
        await api.BindReadyAsync(certificateId, "batch", clientCertificate: true);
        fresh.Add(certificateId);
        var (monitoringId, _) = await api.RequestReadyAsync(teamId, "monitoring", "plus", $"fresh-mon-{Suffix()}",
            parameters: new Dictionary<string, string> { ["targets"] = "127.0.0.1:9" });
        fresh.Add(monitoringId);
        var (rotatingId, _) = await api.RequestReadyAsync(teamId, "redis", "shared", $"fresh-rotating-{Suffix()}");
        var (rotatingBinding, _) = await api.BindReadyAsync(rotatingId, "orders-api");
        await RotateWithOverlapAsync(api, rotatingId, rotatingBinding);
        fresh.Add(rotatingId);

        var (driftingId, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", $"drifting-{Suffix()}");
        await BackendSqlAsync($"DROP DATABASE \"pi_{driftingId:N}\" WITH (FORCE)");
        var runStarted = DateTimeOffset.UtcNow.AddSeconds(-1);

        var drifted = await fixture.RunAsync<ReconcileJob, int>(job => job.RunAsync(Ct));

        var marked = await api.GetOkAsync($"/api/v1/instances/{driftingId}");
        Assert.Equal("Drifted", marked["instance"]!["state"]!.GetValue<string>());
        Assert.Contains(Strings(marked["drift"]!), d => d.EndsWith($"is left without its database pi_{driftingId:N}", StringComparison.Ordinal));
        foreach (var id in fresh)
        {
            var instance = await api.GetOkAsync($"/api/v1/instances/{id}");
            Assert.True(instance["instance"]!["state"]!.GetValue<string>() == "Ready" && instance["drift"]!.AsArray().Count == 0,
                $"{instance["kind"]} was flagged: {instance.ToJsonString()}");
            // It was compared in this run, not skipped.
            Assert.True(instance["reconciledAt"]!.GetValue<DateTimeOffset>() >= runStarted, instance.ToJsonString());
        }

        var platform = (await fixture.PlatformAccountAsync($"drift-{Suffix()}")).Api;
        var all = await platform.GetOkAsync("/api/v1/instances?pageSize=200");
        Assert.Equal(all["items"]!.AsArray().Count(i => i!["state"]!.GetValue<string>() == "Drifted"), drifted);
        var audited = (await platform.GetOkAsync($"/api/v1/audit?action=instance.drifted&objectId={driftingId}"))["items"]!.AsArray();
        Assert.Equal("system", Assert.Single(audited)!["actorKind"]!.GetValue<string>());

        foreach (var id in fresh.Append(driftingId))
        {
            await api.DeleteReadyAsync(id);
        }
    }

    [Fact]
    public async Task ReconcileAndRepair_ByAnotherTeamOrAViewer_AreRefusedAndChangeNothing()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", $"guarded-{Suffix()}");
        await BackendSqlAsync($"DROP DATABASE \"pi_{id:N}\" WITH (FORCE)");

        // Before it is known Drifted: nobody else may find out by asking.
        var admin = await fixture.AdminAsync();
        var strangers = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam($"Strangers {Suffix()}", null)));
        var (stranger, _) = await fixture.TeamAccountAsync(strangers.Id, "developer");
        var (viewer, _) = await fixture.TeamAccountAsync(teamId, "viewer");
        foreach (var action in new[] { "reconcile", "repair" })
        {
            var (status, body, response) = await stranger.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/{action}");
            Assert.Equal(HttpStatusCode.NotFound, status);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(404, body!["status"]!.GetValue<int>());
            Assert.Equal(HttpStatusCode.Forbidden, (await viewer.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/{action}")).Status);
        }

        var untouched = await api.GetOkAsync($"/api/v1/instances/{id}");
        Assert.Equal("Ready", untouched["instance"]!["state"]!.GetValue<string>());
        Assert.Null(untouched["reconciledAt"]);

        // Drifted: a repair is possible now, but still not for them.
        await DriftedAsync(api, id, $"is left without its database pi_{id:N}");
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/repair")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/repair")).Status);
        var still = await api.GetOkAsync($"/api/v1/instances/{id}");
        Assert.Equal("Drifted", still["instance"]!["state"]!.GetValue<string>());
        Assert.DoesNotContain(still["operations"]!.AsArray(), o => o!["kind"]!.GetValue<string>() == "Repair");

        await RepairAsync(api, id);
        await api.DeleteReadyAsync(id);
    }

    /// <summary>Rotates a binding with an hour's overlap (generations 0 and 1 both work) and reveals the new credentials.</summary>
    private static async Task<JsonNode> RotateWithOverlapAsync(ApiClient api, Guid id, Guid bindingId)
    {
        var (status, body, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/bindings/{bindingId}/rotate", new { overlapMinutes = 60 });
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body?.ToJsonString()}");
        await api.WaitForAsync($"/api/v1/instances/{id}",
            i => i["operations"]!.AsArray().All(o => o!["state"]!.GetValue<string>() is "Succeeded"), "the rotation to finish");
        var binding = await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}");
        Assert.True(binding["generation"]!.GetValue<int>() == 1 && binding["retiringGeneration"]?.GetValue<int>() == 0, binding.ToJsonString());
        return (await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}/credentials"))["credentials"]!;
    }

    private static List<string> Strings(JsonNode array) => array.AsArray().Select(s => s!.GetValue<string>()).ToList();

    private static async Task<JsonNode> ReconcileAsync(ApiClient api, Guid id)
    {
        var (status, body, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/reconcile");
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {body?.ToJsonString()}");
        Assert.True(body!["checked"]!.GetValue<bool>(), body.ToJsonString());
        return body;
    }

    /// <summary>One reconcile finds the drift: the answer, the instance's state and its drift list name the difference (one ends with <paramref name="expected"/>).</summary>
    private static async Task DriftedAsync(ApiClient api, Guid id, string expected)
    {
        var outcome = await ReconcileAsync(api, id);
        Assert.Equal("Drifted", outcome["state"]!.GetValue<string>());
        var differences = Strings(outcome["differences"]!);
        Assert.True(differences.Any(d => d.EndsWith(expected, StringComparison.Ordinal)),
            $"no difference ends with '{expected}': {string.Join(" | ", differences)}");

        var instance = await api.GetOkAsync($"/api/v1/instances/{id}");
        Assert.Equal("Drifted", instance["instance"]!["state"]!.GetValue<string>());
        Assert.StartsWith("Drifted: ", instance["instance"]!["statusMessage"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(differences, Strings(instance["drift"]!));
        Assert.NotNull(instance["reconciledAt"]?.GetValue<DateTimeOffset>());
    }

    /// <summary>The team's owners (and the platform) read in the audit trail who found the drift and what it was.</summary>
    private async Task AssertDriftAuditedAsync(Guid id, string expected)
    {
        var platform = (await fixture.PlatformAccountAsync($"drift-{Suffix()}")).Api;
        var events = (await platform.GetOkAsync($"/api/v1/audit?action=instance.drifted&objectId={id}"))["items"]!.AsArray();
        var drifted = Assert.Single(events)!;
        Assert.Equal("service-account", drifted["actorKind"]!.GetValue<string>());
        Assert.Contains(expected, drifted["details"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>Repairs through the API and waits for the repair's end: Ready, nothing differs, the repair operation succeeded.</summary>
    private static async Task<JsonNode> RepairAsync(ApiClient api, Guid id)
    {
        var (status, body, response) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/repair");
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body?.ToJsonString()}");
        Assert.StartsWith("/api/v1/operations/", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        // The repair moved it to Updating before answering, so Ready here is the repair's outcome.
        var repaired = await api.WaitForAsync($"/api/v1/instances/{id}",
            i => i["instance"]!["state"]!.GetValue<string>() is "Ready" or "Failed", "the repair to finish");
        Assert.True(repaired["instance"]!["state"]!.GetValue<string>() == "Ready", repaired.ToJsonString());
        Assert.Empty(repaired["drift"]!.AsArray());
        var repair = repaired["operations"]!.AsArray().First(o => o!["kind"]!.GetValue<string>() == "Repair")!;
        Assert.Equal("Succeeded", repair["state"]!.GetValue<string>());
        var after = await ReconcileAsync(api, id);
        Assert.True(after["state"]!.GetValue<string>() == "Ready", after.ToJsonString());
        return repaired;
    }

    private static List<string> RepairLines(JsonNode instance) =>
        instance["operations"]!.AsArray().First(o => o!["kind"]!.GetValue<string>() == "Repair")!["lines"]!.AsArray()
            .Select(l => l!["message"]!.GetValue<string>()).ToList();

    /// <summary>Runs SQL as the backend server's superuser, as a DBA would by hand.</summary>
    private static async Task BackendSqlAsync(string sql)
    {
        await using var admin = new NpgsqlConnection(TestEnvironment.Backend.ConnectionString);
        await admin.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, admin);
        await command.ExecuteNonQueryAsync(Ct);
    }

    private static CertificateAuthority TestCa() => CertificateAuthority.FromPem(
        File.ReadAllText(Path.Combine(TestEnvironment.CaDirectory, "ca.crt")), File.ReadAllText(Path.Combine(TestEnvironment.CaDirectory, "ca.key")));

    /// <summary>A DELETE on the RabbitMQ management API as its admin, over https trusting the tests' CA alone.</summary>
    private static async Task RabbitMqAdminDeleteAsync(params string[] path)
    {
        var backend = BackendEndpoint.Parse(TestEnvironment.BackendOf("rabbitmq"));
        using var ca = TestCa();
        using var http = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, c, _, e) => ca.Verifies(c, e) } });
        var url = $"{backend.Setting("managementUrl")!.TrimEnd('/')}/api/{string.Join('/', path.Select(Uri.EscapeDataString))}";
        using var request = new HttpRequestMessage(HttpMethod.Delete, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{backend.AdminUser}:{backend.AdminPassword}")));
        using var response = await http.SendAsync(request, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"DELETE {url}: {(int)response.StatusCode}");
    }

    /// <summary>
    /// An etcd gRPC client signed in as root: the server asks every client for a certificate from the tests' CA
    /// (--client-cert-auth); root's name and password decide what it may do.
    /// </summary>
    private static EtcdClient EtcdAdmin()
    {
        var backend = BackendEndpoint.Parse(TestEnvironment.BackendOf("etcd"));
        using var ca = TestCa();
        var root = X509Certificate2.CreateFromPem(ca.CertificatePem);
        var certificate = ca.IssueClient("portal-test-drift", TimeSpan.FromHours(1)).ToX509();
        return new EtcdClient($"https://{backend.Host}:{backend.Port}", backend.AdminUser, backend.AdminPassword,
            configureChannelOptions: options =>
            {
                options.Credentials = Grpc.Core.ChannelCredentials.SecureSsl;
                options.HttpHandler = new SocketsHttpHandler
                {
                    SslOptions =
                    {
                        ClientCertificates = [certificate],
                        RemoteCertificateValidationCallback = (_, server, _, errors) => CertificateAuthority.ChainsTo(root, server, errors),
                    },
                };
            });
    }
}
