using System.Net;
using Npgsql;
using Portal.Application.Leases;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>Leases: plans with a maximum lease expire their instances; owners extend within the maximum.</summary>
public sealed class LeaseTests(LeaseTests.Fixture fixture) : IClassFixture<LeaseTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private async Task<ApiClient> TeamAccountAsync(Guid teamId, string role) => (await fixture.TeamAccountAsync(teamId, role)).Api;

    private async Task SetExpiryAsync(string instanceId, TimeSpan fromNow)
    {
        await using var db = new NpgsqlConnection(fixture.ConnectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand("UPDATE \"Instances\" SET \"ExpiresAt\" = now() + $1 WHERE \"Id\" = $2", db);
        command.Parameters.AddWithValue(fromNow);
        command.Parameters.AddWithValue(Guid.Parse(instanceId));
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private Task RunLeaseJobAsync() => fixture.RunAsync<LeaseJob, bool>(async job =>
    {
        await job.RunAsync(CancellationToken.None);
        return true;
    });

    [Fact]
    public async Task Lease_ExtendedWithinPlan_WarnedThenExpired_DeprovisionsTheRealDatabase()
    {
        var admin = await fixture.AdminAsync();
        var teams = await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin));
        var teamId = teams.Single(t => t.Slug == "demo").Id;
        var dev = await TeamAccountAsync(teamId, "developer");
        var owner = await TeamAccountAsync(teamId, "owner");

        var (_, body, _) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId, offering = "postgresql", plan = "small", name = "leased-db" });
        var id = body!["value"]!["id"]!.GetValue<string>();
        var expires = body["value"]!["expiresAt"]!.GetValue<DateTimeOffset>();
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromDays(30) - TimeSpan.FromMinutes(5), TimeSpan.FromDays(30));
        await dev.WaitForAsync($"/api/v1/instances/{id}", i => i["instance"]!["state"]!.GetValue<string>() == "Ready", "Ready");

        // Owners extend within the plan's 30 days; beyond it is refused; developers may not.
        var (status, problem, _) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/lease", new { until = DateTimeOffset.UtcNow.AddDays(40) });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("no rule for lease extensions", problem!["errors"]!["until"]![0]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Forbidden,
            (await dev.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/lease", new { until = DateTimeOffset.UtcNow.AddDays(10) })).Status);
        var until = DateTimeOffset.UtcNow.AddDays(29);
        var (extended, summary, _) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/lease", new { until });
        Assert.Equal(HttpStatusCode.OK, extended);
        Assert.Equal(until, summary!["value"]!["expiresAt"]!.GetValue<DateTimeOffset>(), TimeSpan.FromMilliseconds(1));

        // Close to the end, the team is warned once.
        await SetExpiryAsync(id, TimeSpan.FromDays(1));
        await RunLeaseJobAsync();
        await RunLeaseJobAsync();
        var platform = await PlatformAsync();
        var warnings = (await platform.GetOkAsync($"/api/v1/audit?action=instance.lease-expiring&objectId={id}"))["items"]!.AsArray();
        Assert.Single(warnings);
        Assert.Equal("system", warnings[0]!["actorKind"]!.GetValue<string>());

        // At the end, the instance is deprovisioned through the normal path: the database is gone.
        await SetExpiryAsync(id, TimeSpan.FromMinutes(-1));
        await RunLeaseJobAsync();
        var deleted = await dev.WaitForAsync($"/api/v1/instances/{id}", i => i["instance"]!["state"]!.GetValue<string>() == "Deleted", "Deleted");
        Assert.Contains(deleted["operations"]!.AsArray(), o => o!["kind"]!.GetValue<string>() == "Deprovision" && o["state"]!.GetValue<string>() == "Succeeded");
        await using var backend = new NpgsqlConnection(TestEnvironment.Backend.ConnectionString);
        await backend.OpenAsync();
        await using var exists = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = $1", backend);
        exists.Parameters.AddWithValue($"pi_{Guid.Parse(id):N}");
        Assert.Equal(0L, await exists.ExecuteScalarAsync());
        Assert.Single((await platform.GetOkAsync($"/api/v1/audit?action=instance.lease-expired&objectId={id}"))["items"]!.AsArray());
    }

    [Fact]
    public async Task Plan_WithoutLease_HasNoExpiryAndCannotBeExtended()
    {
        var admin = await fixture.AdminAsync();
        var teams = await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin));
        var teamId = teams.Single(t => t.Slug == "demo").Id;
        var owner = await TeamAccountAsync(teamId, "owner");
        var (_, body, _) = await owner.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId, offering = "postgresql", plan = "medium", name = "forever-db" });
        Assert.Null(body!["value"]!["expiresAt"]);
        var id = body["value"]!["id"]!.GetValue<string>();
        await owner.WaitForAsync($"/api/v1/instances/{id}", i => i["instance"]!["state"]!.GetValue<string>() == "Ready", "Ready");
        Assert.Equal(HttpStatusCode.Conflict,
            (await owner.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/lease", new { until = DateTimeOffset.UtcNow.AddDays(1) })).Status);
        await owner.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{id}");
    }

    [Fact]
    public async Task ExtensionBeyondPlan_WithPolicyRule_WaitsForApprovalThenApplies()
    {
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Long runners", null)));
        var owner = await TeamAccountAsync(team.Id, "owner");
        var platform = await PlatformAsync();
        var (approver, approverAccount) = await fixture.PlatformAccountAsync("lease-approver");
        await platform.SendAsync(HttpMethod.Put, $"/api/v1/users/{approverAccount.UserId}/roles", new { platformRoles = new[] { "approver" } });
        approver = await ApiClient.SignInAsync(fixture.CreateClient(), approverAccount.ClientId, approverAccount.ClientSecret);
        await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", new object[]
        {
            new { name = "long leases", operation = "ExtendLease", autoApprove = false,
                  stages = new object[] { new { name = "platform", approvers = "PlatformApprovers", requiredApprovals = 1 } } },
        });

        var (_, body, _) = await owner.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId = team.Id, offering = "postgresql", plan = "small", name = "long-db" });
        var id = body!["value"]!["id"]!.GetValue<string>();
        var before = body["value"]!["expiresAt"]!.GetValue<DateTimeOffset>();
        await owner.WaitForAsync($"/api/v1/instances/{id}", i => i["instance"]!["state"]!.GetValue<string>() == "Ready", "Ready");

        var until = DateTimeOffset.UtcNow.AddDays(90);
        var (status, waiting, response) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/lease", new { until });
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(before, waiting!["value"]!["expiresAt"]!.GetValue<DateTimeOffset>(), TimeSpan.FromMilliseconds(1));
        var approval = response.Headers.Location!.OriginalString;
        (status, _, _) = await approver.SendAsync(HttpMethod.Post, $"{approval}/approve", new { text = "quarter-long migration" });
        Assert.Equal(HttpStatusCode.OK, status);
        var extended = await owner.GetOkAsync($"/api/v1/instances/{id}");
        Assert.Equal(until, extended["instance"]!["expiresAt"]!.GetValue<DateTimeOffset>(), TimeSpan.FromMilliseconds(1));
        Assert.Equal("Ready", extended["instance"]!["state"]!.GetValue<string>());

        await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", Array.Empty<object>());
        await owner.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{id}");
    }

    private async Task<ApiClient> PlatformAsync() => (await fixture.PlatformAccountAsync("lease-auditor")).Api;
}
