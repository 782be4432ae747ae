using System.Net;
using Npgsql;
using Portal.Application.Accounts;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>Plan changes and deletions of live instances go through the approval policy, then act on the real server.</summary>
public sealed class PlanChangeTests(PlanChangeTests.Fixture fixture) : IClassFixture<PlanChangeTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private async Task<ApiClient> AccountAsync(Guid teamId, string role) => (await fixture.TeamAccountAsync(teamId, role)).Api;

    private static async Task<int> ConnectionLimitAsync(string instanceId)
    {
        await using var backend = new NpgsqlConnection(TestEnvironment.Backend.ConnectionString);
        await backend.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT coalesce((SELECT datconnlimit FROM pg_database WHERE datname = $1), -99)", backend);
        command.Parameters.AddWithValue($"pi_{Guid.Parse(instanceId):N}");
        return (int)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task ChangePlanAndDelete_GatedByOwners_ApplyOnTheBackendAfterApproval()
    {
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Growing", null)));
        var dev = await AccountAsync(team.Id, "developer");
        var owner = await AccountAsync(team.Id, "owner");
        var (platform, _) = await fixture.PlatformAccountAsync("policy");
        var ownersStage = new object[] { new { name = "owners", approvers = "TeamOwners", requiredApprovals = 1 } };
        await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", new object[]
        {
            new { name = "plan changes", operation = "ChangePlan", autoApprove = false, stages = ownersStage },
            new { name = "deletions", operation = "Delete", autoApprove = false, stages = ownersStage },
            new { name = "the rest", autoApprove = true, stages = Array.Empty<object>() },
        });

        var (_, body, _) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId = team.Id, offering = "postgresql", plan = "small", name = "growing-db" });
        var id = body!["value"]!["id"]!.GetValue<string>();
        await dev.WaitForAsync($"/api/v1/instances/{id}", i => i["instance"]!["state"]!.GetValue<string>() == "Ready", "Ready");
        Assert.Equal(20, await ConnectionLimitAsync(id));

        Assert.Equal(HttpStatusCode.BadRequest, (await dev.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/plan", new { plan = "small" })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await dev.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/plan", new { plan = "huge" })).Status);

        // The plan change waits; the instance keeps working on its plan meanwhile.
        var (status, change, response) = await dev.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/plan", new { plan = "medium" });
        Assert.Equal(HttpStatusCode.Accepted, status);
        var approval = response.Headers.Location!.OriginalString;
        Assert.StartsWith("/api/v1/approvals/", approval);
        Assert.Equal("Ready", change!["value"]!["state"]!.GetValue<string>());
        Assert.Equal("small", change["value"]!["planKey"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Conflict, (await dev.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{id}")).Status);

        (status, _, _) = await owner.SendAsync(HttpMethod.Post, $"{approval}/approve", new { text = "traffic grows" });
        Assert.Equal(HttpStatusCode.OK, status);
        await dev.WaitForAsync($"/api/v1/instances/{id}",
            i => i["instance"]!["state"]!.GetValue<string>() == "Ready" && i["instance"]!["planKey"]!.GetValue<string>() == "medium", "Ready on medium");
        Assert.Equal(100, await ConnectionLimitAsync(id));

        // Deletion: gated as well, then deprovisioned.
        (status, _, response) = await dev.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{id}");
        Assert.Equal(HttpStatusCode.Accepted, status);
        var deletion = response.Headers.Location!.OriginalString;
        Assert.StartsWith("/api/v1/approvals/", deletion);
        Assert.Equal(100, await ConnectionLimitAsync(id));
        (status, _, _) = await owner.SendAsync(HttpMethod.Post, $"{deletion}/approve", new { text = "done with it" });
        Assert.Equal(HttpStatusCode.OK, status);
        await dev.WaitForAsync($"/api/v1/instances/{id}", i => i["instance"]!["state"]!.GetValue<string>() == "Deleted", "Deleted");
        Assert.Equal(-99, await ConnectionLimitAsync(id));
    }
}
