using System.Net;
using Npgsql;
using Portal.Application.Accounts;
using Portal.Application.Teams;

namespace Portal.Integration.Tests;

/// <summary>Team quotas: a request over a quota is refused at once, says which quota and the use, and creates nothing.</summary>
public sealed class QuotaTests(QuotaTests.Fixture fixture) : IClassFixture<QuotaTests.Fixture>
{
    public sealed class Fixture : Portal.Testing.PortalAppFactory;

    [Fact]
    public async Task RequestInstance_OverQuota_AnswersProblemNamingQuotaAndCreatesNothing()
    {
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Quota team", null)));
        var dev = await fixture.RunAsync<CreateServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, team.Id, new CreateServiceAccount("ci", "developer")));
        var api = await ApiClient.SignInAsync(fixture.CreateClient(), dev.ClientId, dev.ClientSecret);
        var platformAccount = await fixture.RunAsync<CreatePlatformServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, new CreatePlatformServiceAccount("quota-admin")));
        var platform = await ApiClient.SignInAsync(fixture.CreateClient(), platformAccount.ClientId, platformAccount.ClientSecret);

        // Only the platform sets quotas. (A PUT names every limit; null means the default.)
        Assert.Equal(HttpStatusCode.Forbidden,
            (await api.SendAsync(HttpMethod.Put, $"/api/v1/teams/{team.Id}/quota", new { maxInstances = 100, maxMonthlyCost = (decimal?)null, maxInstancesPerOffering = (object?)null })).Status);
        var (status, quota, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/teams/{team.Id}/quota",
            new { maxInstances = 2, maxMonthlyCost = 80, maxInstancesPerOffering = new Dictionary<string, int>() });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(quota!["isDefault"]!.GetValue<bool>());

        // small costs 15, medium 60: one medium fits, then a second medium breaks the cost quota.
        var (created, body, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId = team.Id, offering = "postgresql", plan = "medium", name = "first-db" });
        Assert.True(created == HttpStatusCode.Accepted, body?.ToJsonString());
        var (refused, problem, response) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId = team.Id, offering = "postgresql", plan = "medium", name = "second-db" });
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Quota exceeded", problem!["title"]!.GetValue<string>());
        Assert.Equal("monthly cost", problem["quota"]!.GetValue<string>());
        Assert.Equal("60.00", problem["used"]!.GetValue<string>());
        Assert.Contains("80.00", problem["detail"]!.GetValue<string>());

        // A small one fits the cost; a third instance breaks the instance quota.
        (created, body, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId = team.Id, offering = "postgresql", plan = "small", name = "second-db" });
        Assert.True(created == HttpStatusCode.Accepted, body?.ToJsonString());
        (refused, problem, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId = team.Id, offering = "postgresql", plan = "small", name = "third-db" });
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Equal("instances", problem!["quota"]!.GetValue<string>());
        Assert.Equal("2", problem["used"]!.GetValue<string>());

        var use = await api.GetOkAsync($"/api/v1/teams/{team.Id}/quota");
        Assert.Equal(2, use["use"]!["instances"]!.GetValue<int>());
        Assert.Equal(75m, use["use"]!["monthlyCost"]!.GetValue<decimal>());

        // Nothing of the refused requests exists: no instance row, no operation, no database on the backend.
        await using var db = new NpgsqlConnection(fixture.ConnectionString);
        await db.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM \"Instances\" WHERE \"TeamId\" = $1", db);
        count.Parameters.AddWithValue(team.Id);
        Assert.Equal(2L, await count.ExecuteScalarAsync());

        // Per-offering limits apply too.
        (status, _, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/teams/{team.Id}/quota",
            new { maxInstances = 10, maxMonthlyCost = 1000, maxInstancesPerOffering = new Dictionary<string, int> { ["postgresql"] = 2 } });
        Assert.Equal(HttpStatusCode.OK, status);
        (refused, problem, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId = team.Id, offering = "postgresql", plan = "small", name = "third-db" });
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Equal("instances of postgresql", problem!["quota"]!.GetValue<string>());

        var bad = await platform.SendAsync(HttpMethod.Put, $"/api/v1/teams/{team.Id}/quota",
            new { maxInstances = -1, maxMonthlyCost = (decimal?)null, maxInstancesPerOffering = (object?)null });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.NotNull(bad.Body!["errors"]!["maxInstances"]);
        // Every limit is named: one left out is refused, not reset to the default.
        var partial = await platform.SendAsync(HttpMethod.Put, $"/api/v1/teams/{team.Id}/quota", new { maxInstances = 5 });
        Assert.Equal(HttpStatusCode.BadRequest, partial.Status);
        Assert.NotNull(partial.Body!["errors"]!["maxMonthlyCost"]);
    }
}
