using System.Net;
using Npgsql;
using Portal.Application.Accounts;
using Portal.Application.Teams;

namespace Portal.Integration.Tests;

/// <summary>The audit trail: what is recorded, who may read it, and that it is append-only and tamper-evident.</summary>
public sealed class AuditTrailTests(AuditTrailTests.Fixture fixture) : IClassFixture<AuditTrailTests.Fixture>
{
    public sealed class Fixture : Portal.Testing.PortalAppFactory;

    private async Task<ApiClient> PlatformAsync()
    {
        var admin = await fixture.AdminAsync();
        var account = await fixture.RunAsync<CreatePlatformServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, new CreatePlatformServiceAccount("auditor")));
        return await ApiClient.SignInAsync(fixture.CreateClient(), account.ClientId, account.ClientSecret);
    }

    private async Task<(ApiClient Api, Guid TeamId)> TeamAccountAsync(string role, string? newTeam = null)
    {
        var admin = await fixture.AdminAsync();
        var teams = await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin));
        var teamId = newTeam is null
            ? teams.Single(t => t.Slug == "demo").Id
            : teams.FirstOrDefault(t => t.Name == newTeam)?.Id
              ?? (await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam(newTeam, null)))).Id;
        var account = await fixture.RunAsync<CreateServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, teamId, new CreateServiceAccount($"ci-{role}", role)));
        return (await ApiClient.SignInAsync(fixture.CreateClient(), account.ClientId, account.ClientSecret), teamId);
    }

    private async Task<NpgsqlConnection> PortalDatabaseAsync()
    {
        var connection = new NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    [Fact]
    public async Task Trail_RecordsTheFlowVerifiesAndReportsARowChangedInSql()
    {
        var (dev, teamId) = await TeamAccountAsync("developer");
        var (_, body, _) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId, offering = "postgresql", plan = "small", name = "audited-db" });
        var instanceId = body!["value"]!["id"]!.GetValue<string>();
        await dev.WaitForAsync($"/api/v1/instances/{instanceId}", i => i["instance"]!["state"]!.GetValue<string>() == "Ready", "Ready");
        (_, body, _) = await dev.SendAsync(HttpMethod.Post, $"/api/v1/instances/{instanceId}/bindings", new { appName = "audited-app" });
        var bindingId = body!["value"]!["id"]!.GetValue<string>();
        await dev.WaitForAsync($"/api/v1/instances/{instanceId}/bindings",
            l => l.AsArray().Any(b => b!["state"]!.GetValue<string>() == "Ready"), "binding Ready");
        await dev.GetOkAsync($"/api/v1/instances/{instanceId}/bindings/{bindingId}/credentials");

        var platform = await PlatformAsync();
        var events = (await platform.GetOkAsync($"/api/v1/audit?objectId={instanceId}&pageSize=200"))["items"]!.AsArray();
        Assert.Contains(events, e => e!["action"]!.GetValue<string>() == "instance.requested"
                                     && e["actorKind"]!.GetValue<string>() == "service-account"
                                     && e["teamId"]!.GetValue<string>() == teamId.ToString());
        Assert.Contains(events, e => e!["action"]!.GetValue<string>() == "instance.provisioned" && e["actorKind"]!.GetValue<string>() == "system");
        var reveal = (await platform.GetOkAsync($"/api/v1/audit?action=binding.credentials-revealed&objectId={bindingId}"))["items"]!.AsArray();
        Assert.Single(reveal);
        Assert.DoesNotContain("password", reveal[0]!["details"]!.GetValue<string>());
        var signIns = (await platform.GetOkAsync("/api/v1/audit?action=auth.signed-in"))["totalItems"]!.GetValue<int>();
        Assert.True(signIns >= 2, $"{signIns} sign-ins recorded");

        var csv = await (await platform.Http.GetAsync($"/api/v1/audit/export?objectId={instanceId}")).Content.ReadAsStringAsync();
        Assert.StartsWith("sequence,at,actor_id,actor_name", csv);
        Assert.Contains("instance.requested", csv);

        var verified = await platform.SendAsync(HttpMethod.Post, "/api/v1/audit/verify");
        Assert.True(verified.Body!["intact"]!.GetValue<bool>(), verified.Body.ToJsonString());

        // The database refuses changes and removals, whoever asks.
        await using var db = await PortalDatabaseAsync();
        foreach (var sql in new[] { "UPDATE \"AuditEvents\" SET \"Details\" = 'x'", "DELETE FROM \"AuditEvents\"", "TRUNCATE \"AuditEvents\"" })
        {
            await using var command = new NpgsqlCommand(sql, db);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            Assert.Contains("append-only", refused.MessageText);
        }

        // A superuser who switches the triggers off can change a row; verification finds exactly that row.
        var target = reveal[0]!["sequence"]!.GetValue<long>();
        await using (var tamper = new NpgsqlCommand(
                         $"SET session_replication_role = replica; UPDATE \"AuditEvents\" SET \"Details\" = 'nothing to see' WHERE \"Sequence\" = {target}; " +
                         "SET session_replication_role = origin;", db))
        {
            Assert.Equal(1, await tamper.ExecuteNonQueryAsync());
        }

        verified = await platform.SendAsync(HttpMethod.Post, "/api/v1/audit/verify");
        Assert.False(verified.Body!["intact"]!.GetValue<bool>());
        Assert.Equal(target, verified.Body["firstBrokenSequence"]!.GetValue<long>());
    }

    [Fact]
    public async Task Trail_IsReadByOwnersOfTheTeamOnly()
    {
        var (dev, teamId) = await TeamAccountAsync("developer", "Audited team");
        await dev.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId, offering = "postgresql", plan = "small", name = "owned-db" });

        var (owner, _) = await TeamAccountAsync("owner", "Audited team");
        var seen = (await owner.GetOkAsync("/api/v1/audit?action=instance.requested"))["items"]!.AsArray();
        Assert.Contains(seen, e => e!["details"]!.GetValue<string>().StartsWith("owned-db", StringComparison.Ordinal));
        Assert.All(seen, e => Assert.Equal(teamId.ToString(), e!["teamId"]!.GetValue<string>()));

        Assert.Equal(0, (await dev.GetOkAsync("/api/v1/audit"))["totalItems"]!.GetValue<int>());
        var (stranger, _) = await TeamAccountAsync("owner", "Other team");
        Assert.DoesNotContain((await stranger.GetOkAsync("/api/v1/audit?pageSize=500"))["items"]!.AsArray(),
            e => e!["teamId"]?.GetValue<string>() == teamId.ToString());
        Assert.Equal(HttpStatusCode.Forbidden, (await owner.SendAsync(HttpMethod.Post, "/api/v1/audit/verify")).Status);
    }
}
