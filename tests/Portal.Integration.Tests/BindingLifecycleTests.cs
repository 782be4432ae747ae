using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Portal.Application.Bindings;
using Portal.Application.Teams;
using Portal.Data;
using Portal.Provisioning.Certificates;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// A binding as a product, through the REST API on the real PostgreSQL backend (TLS, certificate login): the public
/// platform CA, rotation with an overlap (both generations work, then the old one stops), client certificates and
/// their renewal, revocation, and the audit trail of it all.
/// </summary>
public sealed class BindingLifecycleTests(BindingLifecycleTests.Fixture fixture) : IClassFixture<BindingLifecycleTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PlatformCa_IsPublic_AndIsTheCaThatIssuedTheTestServers()
    {
        var anonymous = fixture.CreateClient();
        var view = await anonymous.GetFromJsonAsync<JsonNode>("/api/v1/ca", Ct);
        var expected = await File.ReadAllTextAsync(Path.Combine(TestEnvironment.CaDirectory, "ca.crt"), Ct);
        using var expectedCertificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(expected);
        Assert.Equal("imported", view!["source"]!.GetValue<string>());
        Assert.Equal(expectedCertificate.Subject, view["subject"]!.GetValue<string>());
        Assert.Equal(
            Convert.ToHexString(expectedCertificate.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256)),
            view["sha256Fingerprint"]!.GetValue<string>().Replace(":", "", StringComparison.Ordinal));

        using var file = await anonymous.GetAsync("/ca.crt", Ct);
        Assert.Equal(HttpStatusCode.OK, file.StatusCode);
        Assert.Equal("application/x-pem-file", file.Content.Headers.ContentType!.MediaType);
        var pem = await file.Content.ReadAsStringAsync(Ct);
        Assert.Equal(expectedCertificate.RawData, System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem).RawData);
        Assert.DoesNotContain("PRIVATE KEY", pem);

        // Importing another CA is for platform admins only, and bad PEM is a clear 400 that changes nothing.
        var (developer, _) = await fixture.DemoDeveloperAsync();
        var (status, _, _) = await developer.SendAsync(HttpMethod.Put, "/api/v1/ca", new { certificatePem = pem, keyPem = "x" });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        var admin = (await fixture.PlatformAccountAsync("ca-admin")).Api;
        var (badStatus, problem, _) = await admin.SendAsync(HttpMethod.Put, "/api/v1/ca", new { certificatePem = pem, keyPem = "not a key" });
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        Assert.NotNull(problem!["errors"]!["certificatePem"]);
        Assert.Equal(view["sha256Fingerprint"]!.GetValue<string>(),
            (await anonymous.GetFromJsonAsync<JsonNode>("/api/v1/ca", Ct))!["sha256Fingerprint"]!.GetValue<string>());
    }

    [Fact]
    public async Task Rotation_BothGenerationsWorkDuringTheOverlap_ThenTheOldOneIsRefused()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", "rotating-db");
        var (bindingId, first) = await api.BindReadyAsync(id, "orders-api");
        Assert.Contains("sslmode=verify-full", Value(first, "uri"));
        using (var testCa = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(TestEnvironment.CaDirectory, "ca.crt"))))
        using (var bindingCa = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(Value(first, "ca.crt")))
        {
            Assert.Equal(testCa.RawData, bindingCa.RawData);
        }

        await using (var connection = await ConnectAsync(first))
        {
            Assert.Equal(Value(first, "username"), await ScalarAsync<string>(connection, "SELECT session_user::text"));
        }

        // Bad input changes nothing.
        var (badStatus, problem, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/bindings/{bindingId}/rotate", new { overlapMinutes = -5 });
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        Assert.NotNull(problem!["errors"]!["overlapMinutes"]);

        var second = await RotateAsync(api, id, bindingId, overlapMinutes: 60, expectedGeneration: 1);
        var during = await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}");
        Assert.Equal(0, during["retiringGeneration"]!.GetValue<int>());
        Assert.NotEqual(Value(first, "username"), Value(second, "username"));
        Assert.NotEqual(Value(first, "password"), Value(second, "password"));
        await using var oldSession = await ConnectAsync(first);
        await using (var newSession = await ConnectAsync(second))
        {
            Assert.Equal(1, await ScalarAsync<int>(newSession, "SELECT 1"));
        }

        // The overlap ends: the retire job takes the old generation off the server.
        await using (var scope = fixture.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
            await db.Bindings.Where(b => b.Id == bindingId).ExecuteUpdateAsync(s => s.SetProperty(b => b.RetireAt, DateTimeOffset.UtcNow.AddSeconds(-1)), Ct);
            await scope.ServiceProvider.GetRequiredService<RetireDueJob>().RunAsync(bindingId, Ct);
        }

        await api.WaitForAsync($"/api/v1/instances/{id}/bindings/{bindingId}", b => b["retiringGeneration"] is null, "generation 0 to be retired");
        await Assert.ThrowsAnyAsync<Exception>(() => ScalarAsync<int>(oldSession, "SELECT 1")); // its session was ended
        var refused = await Assert.ThrowsAsync<PostgresException>(() => ConnectAsync(first));
        Assert.Equal("28P01", refused.SqlState); // password authentication failed: the role is gone
        await using (var stillWorks = await ConnectAsync(second))
        {
            Assert.Equal(1, await ScalarAsync<int>(stillWorks, "SELECT 1"));
        }

        // Overlap 0: the current credentials stop as soon as the new ones exist.
        var third = await RotateAsync(api, id, bindingId, overlapMinutes: 0, expectedGeneration: 2);
        await api.WaitForAsync($"/api/v1/instances/{id}/bindings/{bindingId}", b => b["retiringGeneration"] is null, "generation 1 to be retired");
        await Assert.ThrowsAsync<PostgresException>(() => ConnectAsync(second));
        await using (var current = await ConnectAsync(third))
        {
            Assert.Equal(1, await ScalarAsync<int>(current, "SELECT 1"));
        }

        // Revoke: immediate, through POST …/revoke.
        var (revokeStatus, _, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/bindings/{bindingId}/revoke");
        Assert.Equal(HttpStatusCode.Accepted, revokeStatus);
        await api.WaitForAsync($"/api/v1/instances/{id}/bindings",
            list => list.AsArray().All(b => b!["id"]!.GetValue<string>() != bindingId.ToString()), "the binding to be revoked");
        await Assert.ThrowsAsync<PostgresException>(() => ConnectAsync(third));

        var actions = await AuditActionsAsync(bindingId);
        Assert.Contains("binding.rotation-requested", actions);
        Assert.Equal(2, actions.Count(a => a == "binding.rotated"));
        Assert.Contains("binding.generation-retired", actions);
        Assert.Contains("binding.revoke-requested", actions);
        Assert.Contains("binding.revoked", actions);
        Assert.Contains("binding.credentials-revealed", actions);
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task ClientCertificate_SignsInWithoutPassword_IsRenewed_AndIsRefusedOnceRevoked()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", "cert-db");
        var (bindingId, credentials) = await api.BindReadyAsync(id, "batch-job", clientCertificate: true);
        Assert.Null(credentials["password"]);
        Assert.Equal(Value(credentials, "username"), IssuedCertificate.CommonNameOf(Value(credentials, "tls.crt")));
        var binding = await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}");
        Assert.True(binding["clientCertificate"]!.GetValue<bool>());
        var expires = binding["certificateExpiresAt"]!.GetValue<DateTimeOffset>();
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddDays(6.9), DateTimeOffset.UtcNow.AddDays(7.1)); // the default validity

        await using (var connection = await ConnectAsync(credentials))
        {
            Assert.Equal(Value(credentials, "username"), await ScalarAsync<string>(connection, "SELECT session_user::text"));
        }

        // Renewal: a new certificate for the same user; the old one keeps working until it expires.
        await using (var scope = fixture.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CertificateRenewalJob>().RenewAsync(bindingId, Ct);
        }

        var renewed = (await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}/credentials"))["credentials"]!;
        Assert.NotEqual(Value(credentials, "tls.crt"), Value(renewed, "tls.crt"));
        Assert.NotEqual(Value(credentials, "tls.key"), Value(renewed, "tls.key"));
        await using (var withNew = await ConnectAsync(renewed))
        await using (var withOld = await ConnectAsync(credentials))
        {
            Assert.Equal(1, await ScalarAsync<int>(withNew, "SELECT 1"));
            Assert.Equal(1, await ScalarAsync<int>(withOld, "SELECT 1"));
        }

        await api.UnbindAsync(id, bindingId);
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(renewed));
        Assert.Contains("binding.certificate-renewed", await AuditActionsAsync(bindingId));
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task ScheduledRotation_RotatesBindingsWhenThePlanSaysTheyAreDue_AndNoOthers()
    {
        var platform = (await fixture.PlatformAccountAsync("rotation-admin")).Api;
        var offering = (await platform.GetOkAsync("/api/v1/offerings")).AsArray().Single(o => o!["key"]!.GetValue<string>() == "postgresql")!;
        var (tooLong, problem, _) = await platform.SendAsync(HttpMethod.Post, $"/api/v1/offerings/{offering["id"]}/plans", new
        {
            key = "rotating", name = "Rotating", monthlyCost = 0,
            limits = new Dictionary<string, int> { [ScheduledRotation.EveryDaysLimit] = 30, [ScheduledRotation.OverlapLimit] = 20000 },
        });
        Assert.Equal(HttpStatusCode.BadRequest, tooLong);
        Assert.Contains("at most 10080 minutes", problem!["errors"]!["limits"]![0]!.GetValue<string>());
        var (planStatus, plan, _) = await platform.SendAsync(HttpMethod.Post, $"/api/v1/offerings/{offering["id"]}/plans", new
        {
            key = "rotating", name = "Rotating", monthlyCost = 0,
            limits = new Dictionary<string, int> { [ScheduledRotation.EveryDaysLimit] = 30, [ScheduledRotation.OverlapLimit] = 0 },
        });
        Assert.True(planStatus == HttpStatusCode.Created, plan?.ToJsonString());
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "postgresql", "rotating", "scheduled-db");
        var (bindingId, first) = await api.BindReadyAsync(id, "nightly-api");
        var bindingUrl = $"/api/v1/instances/{id}/bindings/{bindingId}";
        var binding = await api.GetOkAsync(bindingUrl);
        Assert.Equal(binding["createdAt"]!.GetValue<DateTimeOffset>().AddDays(30), binding["nextRotationAt"]!.GetValue<DateTimeOffset>());

        // Not due: nothing happens.
        Assert.Equal(0, await RunScheduledRotationAsync());

        // Made 31 days ago: due, rotated with the plan's overlap (none), and the old credentials stop.
        await using (var db = new NpgsqlConnection(fixture.ConnectionString))
        {
            await db.OpenAsync(Ct);
            await using var backdate = new NpgsqlCommand("UPDATE \"Bindings\" SET \"CreatedAt\" = now() - interval '31 days' WHERE \"Id\" = $1", db);
            backdate.Parameters.AddWithValue(bindingId);
            Assert.Equal(1, await backdate.ExecuteNonQueryAsync(Ct));
        }

        Assert.Equal(1, await RunScheduledRotationAsync());
        var rotated = await api.WaitForAsync(bindingUrl,
            b => b["generation"]!.GetValue<int>() == 1 && b["retiringGeneration"] is null, "the scheduled rotation and its retirement");
        var rotatedAt = rotated["rotatedAt"]!.GetValue<DateTimeOffset>();
        Assert.InRange(rotatedAt, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow);
        Assert.Equal(rotatedAt.AddDays(30), rotated["nextRotationAt"]!.GetValue<DateTimeOffset>());
        var second = (await api.GetOkAsync($"{bindingUrl}/credentials"))["credentials"]!;
        Assert.NotEqual(Value(first, "username"), Value(second, "username"));
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(first));
        await (await ConnectAsync(second)).DisposeAsync();

        // Just rotated: not due again; the audit trail says the schedule asked for it.
        Assert.Equal(0, await RunScheduledRotationAsync());
        Assert.Contains("binding.rotation-requested", await AuditActionsAsync(bindingId));

        // The team's bindings list shows it, without credentials; another team gets "not found".
        var listed = (await api.GetOkAsync($"/api/v1/teams/{teamId}/bindings")).AsArray();
        var row = listed.Single(r => r!["binding"]!["id"]!.GetValue<string>() == bindingId.ToString())!;
        Assert.Equal("scheduled-db", row["instanceName"]!.GetValue<string>());
        Assert.Equal(1, row["binding"]!["generation"]!.GetValue<int>());
        Assert.Equal(rotatedAt.AddDays(30), row["binding"]!["nextRotationAt"]!.GetValue<DateTimeOffset>());
        Assert.DoesNotContain(Value(second, "password"), listed.ToJsonString(), StringComparison.Ordinal);
        var admin = await fixture.AdminAsync();
        var other = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Other rotation team", null)));
        var outsider = (await fixture.TeamAccountAsync(other.Id, "owner")).Api;
        var (outsiderStatus, _, _) = await outsider.SendAsync(HttpMethod.Get, $"/api/v1/teams/{teamId}/bindings");
        Assert.Equal(HttpStatusCode.NotFound, outsiderStatus);
        await api.DeleteReadyAsync(id);
    }

    private Task<int> RunScheduledRotationAsync() =>
        fixture.RunAsync<ScheduledRotationJob, int>(job => job.RunAsync(Ct));

    [Fact]
    public async Task ClientCertificate_OnAKindWithoutCertificateLogin_IsA400_AndMakesNoBinding()
    {
        TestEnvironment.BackendOf("redis");
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        // Redis 7.0 cannot map a certificate to an ACL user: redis bindings take none.
        var (id, _) = await api.RequestReadyAsync(teamId, "redis", "shared", "nocert-cache");
        var (status, problem, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/bindings", new { appName = "cache-app", clientCertificate = true });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("take no client certificates", problem!["errors"]!["clientCertificate"]![0]!.GetValue<string>());
        Assert.Empty((await api.GetOkAsync($"/api/v1/instances/{id}/bindings")).AsArray());
        await api.DeleteReadyAsync(id);
    }

    private static string Value(JsonNode credentials, string key) => credentials[key]!.GetValue<string>();

    private static async Task<JsonNode> RotateAsync(ApiClient api, Guid instanceId, Guid bindingId, int overlapMinutes, int expectedGeneration)
    {
        var (status, body, response) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{instanceId}/bindings/{bindingId}/rotate", new { overlapMinutes });
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body?.ToJsonString()}");
        var operation = await api.WaitForAsync(response.Headers.Location!.OriginalString,
            o => o["state"]!.GetValue<string>() is "Succeeded" or "Failed", "the rotation");
        Assert.True(operation["state"]!.GetValue<string>() == "Succeeded", operation.ToJsonString());
        var binding = await api.GetOkAsync($"/api/v1/instances/{instanceId}/bindings/{bindingId}");
        Assert.Equal(expectedGeneration, binding["generation"]!.GetValue<int>());
        return (await api.GetOkAsync($"/api/v1/instances/{instanceId}/bindings/{bindingId}/credentials"))["credentials"]!;
    }

    private async Task<List<string>> AuditActionsAsync(Guid bindingId)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
        var id = bindingId.ToString();
        return await db.AuditEvents.Where(e => e.ObjectId == id).Select(e => e.Action).ToListAsync(Ct);
    }

    /// <summary>Connects as an app would: TLS verified against the binding's ca.crt only; a certificate when it has one.</summary>
    private static Task<NpgsqlConnection> ConnectAsync(JsonNode credentials) =>
        AppClients.OpenPostgresAsync(key => credentials[key]?.GetValue<string>(), Ct);

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync(Ct))!;
    }
}
