using System.Net;
using Npgsql;
using Portal.Application.Accounts;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// Approval workflows on the real portal: a gated request touches no backend until its last stage is
/// approved; the requester cannot approve it; a rejection leaves nothing behind.
/// </summary>
public sealed class ApprovalTests(ApprovalTests.Fixture fixture) : IClassFixture<ApprovalTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private Task<(ApiClient Api, ServiceAccountCreated Account)> TeamAccountAsync(Guid teamId, string role) => fixture.TeamAccountAsync(teamId, role);

    private async Task<(ApiClient Platform, ApiClient Approver)> PlatformAccountsAsync()
    {
        var admin = await fixture.AdminAsync();
        var platformAccount = await fixture.RunAsync<CreatePlatformServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, new CreatePlatformServiceAccount("policy-admin")));
        var platform = await ApiClient.SignInAsync(fixture.CreateClient(), platformAccount.ClientId, platformAccount.ClientSecret);
        var approverAccount = await fixture.RunAsync<CreatePlatformServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, new CreatePlatformServiceAccount("approver-bot")));
        var (status, _, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/users/{approverAccount.UserId}/roles", new { platformRoles = new[] { "approver" } });
        Assert.Equal(HttpStatusCode.OK, status);
        return (platform, await ApiClient.SignInAsync(fixture.CreateClient(), approverAccount.ClientId, approverAccount.ClientSecret));
    }

    private static async Task<long> BackendDatabasesAsync(string instanceId)
    {
        await using var backend = new NpgsqlConnection(TestEnvironment.Backend.ConnectionString);
        await backend.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = $1", backend);
        command.Parameters.AddWithValue($"pi_{Guid.Parse(instanceId):N}");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task ProdRequest_TwoStages_WaitsTouchesNothingThenProvisionsAfterTheLast()
    {
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Gated team", null)));
        var (dev, _) = await TeamAccountAsync(team.Id, "developer");
        var (owner, _) = await TeamAccountAsync(team.Id, "owner");
        var (platform, approver) = await PlatformAccountsAsync();

        var (status, problem, _) = await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", new object[]
        {
            new { name = "broken", autoApprove = false, stages = Array.Empty<object>() },
        });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(problem!["errors"]!["rules[0].stages"]);
        (status, _, _) = await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", new object[]
        {
            new
            {
                name = "prod needs owners and platform", environment = "prod", autoApprove = false,
                stages = new object[]
                {
                    new { name = "team owners", approvers = "TeamOwners", requiredApprovals = 1 },
                    new { name = "platform", approvers = "PlatformApprovers", requiredApprovals = 1 },
                },
            },
            new { name = "the rest", autoApprove = true, stages = Array.Empty<object>() },
        });
        Assert.Equal(HttpStatusCode.OK, status);

        // A dev request passes at once; a prod request waits.
        var (accepted, body, response) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId = team.Id, offering = "postgresql", plan = "small", name = "prod-db", environment = "prod" });
        Assert.Equal(HttpStatusCode.Accepted, accepted);
        var location = response.Headers.Location!.OriginalString;
        Assert.StartsWith("/api/v1/approvals/", location);
        var instanceId = body!["value"]!["id"]!.GetValue<string>();
        Assert.Equal("PendingApproval", body["value"]!["state"]!.GetValue<string>());

        await Task.Delay(1500);
        var waiting = await dev.GetOkAsync($"/api/v1/instances/{instanceId}");
        Assert.Equal("PendingApproval", waiting["instance"]!["state"]!.GetValue<string>());
        Assert.Empty(waiting["operations"]!.AsArray());
        Assert.Equal(0, await BackendDatabasesAsync(instanceId));

        // The owners are told; the approver is not yet (their stage comes second).
        var ownerNotes = (await owner.GetOkAsync("/api/v1/notifications?unread=true")).AsArray();
        Assert.Contains(ownerNotes, n => n!["title"]!.GetValue<string>() == "prod-db waits for your approval" && n["link"]!.GetValue<string>() == "/approvals");
        Assert.Empty((await approver.GetOkAsync("/api/v1/notifications")).AsArray());

        // The platform approver may not decide the owners' stage; the owner's inbox shows the request.
        Assert.Empty((await approver.GetOkAsync("/api/v1/approvals")).AsArray());
        var inbox = (await owner.GetOkAsync("/api/v1/approvals")).AsArray();
        var item = Assert.Single(inbox)!;
        Assert.Equal("prod-db", item["instanceName"]!.GetValue<string>());
        Assert.Equal(15m, item["monthlyCost"]!.GetValue<decimal>());
        Assert.Equal(1, item["teamQuota"]!["instances"]!.GetValue<int>());
        // Not theirs to decide yet, so not theirs to see: 404, as reading it answers.
        Assert.Equal(HttpStatusCode.NotFound, (await approver.SendAsync(HttpMethod.Post, $"{location}/approve", new { text = "looks fine" })).Status);

        // Stage 1 by the owner; stage 2 by the platform approver; then it provisions.
        var (decided, view, _) = await owner.SendAsync(HttpMethod.Post, $"{location}/approve", new { text = "we need it for the launch" });
        Assert.True(decided == HttpStatusCode.OK, view?.ToJsonString());
        Assert.Equal(1, view!["currentStage"]!.GetValue<int>());
        Assert.Equal("PendingApproval", (await dev.GetOkAsync($"/api/v1/instances/{instanceId}"))["instance"]!["state"]!.GetValue<string>());
        Assert.Contains((await approver.GetOkAsync("/api/v1/notifications")).AsArray(),
            n => n!["title"]!.GetValue<string>() == "prod-db waits for your approval");
        (decided, view, _) = await approver.SendAsync(HttpMethod.Post, $"{location}/approve", new { text = "capacity is there" });
        Assert.Equal(HttpStatusCode.OK, decided);
        Assert.Equal("Approved", view!["status"]!.GetValue<string>());
        await dev.WaitForAsync($"/api/v1/instances/{instanceId}", i => i["instance"]!["state"]!.GetValue<string>() == "Ready", "Ready after approval");
        Assert.Equal(1, await BackendDatabasesAsync(instanceId));
        var devNotes = (await dev.GetOkAsync("/api/v1/notifications")).AsArray().Select(n => n!["title"]!.GetValue<string>()).ToList();
        Assert.Contains("prod-db was approved", devNotes);
        Assert.Contains("prod-db is ready", devNotes);
        Assert.Equal(HttpStatusCode.NoContent, (await dev.SendAsync(HttpMethod.Post, "/api/v1/notifications/read")).Status);
        Assert.Empty((await dev.GetOkAsync("/api/v1/notifications?unread=true")).AsArray());

        var audit = (await platform.GetOkAsync($"/api/v1/audit?action=approval.&objectId={instanceId}"))["items"]!.AsArray();
        Assert.Equal(2, audit.Count);
        await dev.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{instanceId}");
    }

    [Fact]
    public async Task GatedRequest_OwnApprovalRefusedAndRejectionLeavesNothing()
    {
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Self team", null)));
        var (owner, _) = await TeamAccountAsync(team.Id, "owner");
        var (otherOwner, _) = await TeamAccountAsync(team.Id, "owner");
        var (platform, _) = await PlatformAccountsAsync();
        await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", new object[]
        {
            new { name = "everything by owners", autoApprove = false, stages = new object[] { new { name = "owners", approvers = "TeamOwners", requiredApprovals = 1 } } },
        });

        var (_, body, response) = await owner.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId = team.Id, offering = "postgresql", plan = "small", name = "self-db" });
        var instanceId = body!["value"]!["id"]!.GetValue<string>();
        var location = response.Headers.Location!.OriginalString;

        var (status, problem, own) = await owner.SendAsync(HttpMethod.Post, $"{location}/approve", new { text = "I approve my own" });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("application/problem+json", own.Content.Headers.ContentType?.MediaType);
        Assert.Contains("own request", problem!["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, (await otherOwner.SendAsync(HttpMethod.Post, $"{location}/reject", new { text = "" })).Status);

        (status, _, _) = await otherOwner.SendAsync(HttpMethod.Post, $"{location}/reject", new { text = "use the shared one" });
        Assert.Equal(HttpStatusCode.OK, status);
        var rejected = await owner.GetOkAsync($"/api/v1/instances/{instanceId}");
        Assert.Equal("Rejected", rejected["instance"]!["state"]!.GetValue<string>());
        Assert.Contains("use the shared one", rejected["instance"]!["statusMessage"]!.GetValue<string>());
        Assert.Equal(0, await BackendDatabasesAsync(instanceId));
        Assert.Equal(HttpStatusCode.Conflict, (await otherOwner.SendAsync(HttpMethod.Post, $"{location}/approve", new { text = "changed my mind" })).Status);

        // Leave the policy as the other tests expect it.
        await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", Array.Empty<object>());
    }

    [Fact]
    public async Task WaitingRequest_RemindedOnceThenExpired_ProvisionsNothing()
    {
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Slow team", null)));
        var (dev, _) = await TeamAccountAsync(team.Id, "developer");
        var (platform, _) = await PlatformAccountsAsync();
        await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", new object[]
        {
            new { name = "slow team waits", teamId = team.Id, autoApprove = false, stages = new object[] { new { name = "owners", approvers = "TeamOwners", requiredApprovals = 1 } } },
        });
        var (_, body, response) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId = team.Id, offering = "postgresql", plan = "small", name = "slow-db" });
        var instanceId = body!["value"]!["id"]!.GetValue<string>();
        var requestId = response.Headers.Location!.OriginalString.Split('/')[^1];

        async Task AgeAsync(TimeSpan age)
        {
            await using var db = new NpgsqlConnection(fixture.ConnectionString);
            await db.OpenAsync();
            await using var command = new NpgsqlCommand("UPDATE \"ApprovalRequests\" SET \"CreatedAt\" = now() - $1 WHERE \"Id\" = $2", db);
            command.Parameters.AddWithValue(age);
            command.Parameters.AddWithValue(Guid.Parse(requestId));
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        Task RunJobAsync() => fixture.RunAsync<Portal.Application.Approvals.ApprovalDeadlinesJob, bool>(async job =>
        {
            await job.RunAsync(CancellationToken.None);
            return true;
        });

        await AgeAsync(TimeSpan.FromDays(2));
        await RunJobAsync();
        await RunJobAsync();
        Assert.Single((await platform.GetOkAsync($"/api/v1/audit?action=approval.reminder&objectId={instanceId}"))["items"]!.AsArray());
        Assert.Equal("PendingApproval", (await dev.GetOkAsync($"/api/v1/instances/{instanceId}"))["instance"]!["state"]!.GetValue<string>());

        await AgeAsync(TimeSpan.FromDays(8));
        await RunJobAsync();
        var expired = await dev.GetOkAsync($"/api/v1/instances/{instanceId}");
        Assert.Equal("Expired", expired["instance"]!["state"]!.GetValue<string>());
        Assert.Contains("Nobody decided", expired["instance"]!["statusMessage"]!.GetValue<string>());
        Assert.Empty(expired["operations"]!.AsArray());
        Assert.Equal(0, await BackendDatabasesAsync(instanceId));
        Assert.Equal("Expired", (await dev.GetOkAsync($"/api/v1/approvals/{requestId}"))["status"]!.GetValue<string>());

        await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", Array.Empty<object>());
    }

    [Fact]
    public async Task GroupStage_DecidedByGroupMembersOnly()
    {
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Grouped team", null)));
        var (dev, _) = await TeamAccountAsync(team.Id, "developer");
        var (platform, approver) = await PlatformAccountsAsync();
        var dbaAccount = await fixture.RunAsync<CreatePlatformServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, new CreatePlatformServiceAccount("dba-bot")));
        var dba = await ApiClient.SignInAsync(fixture.CreateClient(), dbaAccount.ClientId, dbaAccount.ClientSecret);

        var (status, problem, _) = await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", new object[]
        {
            new { name = "dba decides", autoApprove = false, stages = new object[] { new { name = "dba", approvers = "Group", group = "dba", requiredApprovals = 1 } } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("no approver group 'dba'", problem!["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest,
            (await platform.SendAsync(HttpMethod.Put, "/api/v1/approver-groups/dba", new { members = new[] { "nobody@example.com" } })).Status);
        (status, _, _) = await platform.SendAsync(HttpMethod.Put, "/api/v1/approver-groups/dba", new { description = "databases", members = new[] { dbaAccount.ClientId } });
        Assert.Equal(HttpStatusCode.OK, status);
        (status, _, _) = await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", new object[]
        {
            new { name = "dba decides", teamId = team.Id, autoApprove = false, stages = new object[] { new { name = "dba", approvers = "Group", group = "dba", requiredApprovals = 1 } } },
        });
        Assert.Equal(HttpStatusCode.OK, status);

        var (_, body, response) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId = team.Id, offering = "postgresql", plan = "small", name = "grouped-db" });
        var id = body!["value"]!["id"]!.GetValue<string>();
        var location = response.Headers.Location!.OriginalString;
        Assert.Equal(HttpStatusCode.NotFound, (await approver.SendAsync(HttpMethod.Post, $"{location}/approve", new { text = "not my group" })).Status);
        Assert.Single((await dba.GetOkAsync("/api/v1/approvals")).AsArray());
        Assert.Contains((await dba.GetOkAsync("/api/v1/notifications")).AsArray(), n => n!["title"]!.GetValue<string>() == "grouped-db waits for your approval");
        Assert.Equal(HttpStatusCode.OK, (await dba.SendAsync(HttpMethod.Post, $"{location}/approve", new { text = "schema reviewed" })).Status);
        await dev.WaitForAsync($"/api/v1/instances/{id}", i => i["instance"]!["state"]!.GetValue<string>() == "Ready", "Ready");

        Assert.Equal(HttpStatusCode.Conflict, (await platform.SendAsync(HttpMethod.Delete, "/api/v1/approver-groups/dba")).Status);
        await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", Array.Empty<object>());
        Assert.Equal(HttpStatusCode.NoContent, (await platform.SendAsync(HttpMethod.Delete, "/api/v1/approver-groups/dba")).Status);
        await dev.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{id}");
    }
}
