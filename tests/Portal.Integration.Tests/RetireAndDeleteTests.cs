using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// Taking backends, plans and teams out of service through the REST API on the real PostgreSQL backend: what is in
/// use can be retired (nothing new goes there, what is there keeps working) but not deleted; what nothing uses can be
/// deleted; every refusal says why and changes nothing, and only those with the right may do either.
/// </summary>
public sealed class RetireAndDeleteTests(RetireAndDeleteTests.Fixture fixture) : IClassFixture<RetireAndDeleteTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private static string Suffix() => Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Backend_WithInstances_IsRetiredNotDeleted_AndAnUnusedOneIsDeleted()
    {
        var (platform, _) = await fixture.PlatformAccountAsync("platform-retire-backend");
        var (dev, teamId) = await fixture.DemoDeveloperAsync();
        var real = TestEnvironment.Backend;
        async Task<string> RegisterAsync(string name)
        {
            var (status, body, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/backends", new
            {
                name, kind = "postgresql", host = real.Host, port = real.Port, adminUser = real.Username, adminPassword = real.Password, site = "dc1",
            });
            Assert.True(status == HttpStatusCode.Created, body?.ToJsonString());
            return body!["id"]!.GetValue<string>();
        }

        var old = await RegisterAsync($"pg-old-{Suffix()}");
        var fresh = await RegisterAsync($"pg-new-{Suffix()}");
        var offering = await OfferingAsync(platform, "postgresql");
        Assert.Equal(HttpStatusCode.OK, (await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends",
            new { backendIds = new[] { old } })).Status);
        var (onOld, _) = await dev.RequestReadyAsync(teamId, "postgresql", "small", $"on-old-{Suffix()}");
        Assert.Equal(old, await BackendOfAsync(onOld));
        Assert.Equal(HttpStatusCode.OK, (await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends",
            new { backendIds = new[] { old, fresh } })).Status);

        // Only platform admins retire or delete; a team account is refused and nothing changes.
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.SendAsync(HttpMethod.Post, $"/api/v1/backends/{old}/retire")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.SendAsync(HttpMethod.Delete, $"/api/v1/backends/{old}")).Status);

        // Live instances: delete is refused naming them, retire works and is idempotent.
        var (refused, problem, _) = await platform.SendAsync(HttpMethod.Delete, $"/api/v1/backends/{old}");
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Contains("holds 1 live instance", problem!["detail"]!.GetValue<string>());
        var (retired, view, _) = await platform.SendAsync(HttpMethod.Post, $"/api/v1/backends/{old}/retire");
        Assert.Equal(HttpStatusCode.OK, retired);
        Assert.NotNull(view!["retiredAt"]);
        var listed = (await platform.GetOkAsync($"/api/v1/backends")).AsArray().Single(b => b!["id"]!.GetValue<string>() == old)!;
        Assert.InRange(listed["retiredAt"]!.GetValue<DateTimeOffset>() - view["retiredAt"]!.GetValue<DateTimeOffset>(), TimeSpan.FromMilliseconds(-1), TimeSpan.FromMilliseconds(1));
        Assert.Equal(HttpStatusCode.OK, (await platform.SendAsync(HttpMethod.Post, $"/api/v1/backends/{old}/retire")).Status);

        // New instances go to the backend in service; the one on the retired backend keeps working and can be deleted.
        var (onFresh, _) = await dev.RequestReadyAsync(teamId, "postgresql", "small", $"on-new-{Suffix()}");
        Assert.Equal(fresh, await BackendOfAsync(onFresh));
        var (bindingId, credentials) = await dev.BindReadyAsync(onOld, "still-here");
        Assert.NotEqual(Guid.Empty, bindingId);
        Assert.False(string.IsNullOrEmpty(credentials["password"]?.GetValue<string>()));

        // With every backend retired the catalog says it cannot be requested, and a request says why.
        Assert.Equal(HttpStatusCode.OK, (await platform.SendAsync(HttpMethod.Post, $"/api/v1/backends/{fresh}/retire")).Status);
        Assert.False((await OfferingAsync(dev, "postgresql"))["isAvailable"]!.GetValue<bool>());
        var (none, noneProblem, _) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering = "postgresql", plan = "small", name = $"nowhere-{Suffix()}" });
        Assert.Equal(HttpStatusCode.Conflict, none);
        Assert.Contains("retired", noneProblem!["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await platform.SendAsync(HttpMethod.Post, $"/api/v1/backends/{fresh}/reinstate")).Status);
        Assert.True((await OfferingAsync(dev, "postgresql"))["isAvailable"]!.GetValue<bool>());

        // Once its instances are deleted, the history still names the backend: it stays on record, retired.
        await dev.DeleteReadyAsync(onOld);
        (refused, problem, _) = await platform.SendAsync(HttpMethod.Delete, $"/api/v1/backends/{old}");
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Contains("history of 1 deleted instance", problem!["detail"]!.GetValue<string>());

        // A backend nothing was ever placed on is deleted, and taken out of the offering.
        var unused = await RegisterAsync($"pg-mistake-{Suffix()}");
        Assert.Equal(HttpStatusCode.OK, (await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends",
            new { backendIds = new[] { old, fresh, unused } })).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await platform.SendAsync(HttpMethod.Delete, $"/api/v1/backends/{unused}")).Status);
        Assert.DoesNotContain((await platform.GetOkAsync("/api/v1/backends")).AsArray(), b => b!["id"]!.GetValue<string>() == unused);
        Assert.Equal([old, fresh], (await OfferingAsync(platform, "postgresql"))["backendIds"]!.AsArray().Select(i => i!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.NotFound, (await platform.SendAsync(HttpMethod.Delete, $"/api/v1/backends/{unused}")).Status);

        var actions = await AuditActionsAsync(platform, "backend");
        Assert.Contains("backend.retired", actions);
        Assert.Contains("backend.reinstated", actions);
        Assert.Contains("backend.deleted", actions);
        Assert.Equal(2, actions.Count(a => a == "backend.retired"));
        await dev.DeleteReadyAsync(onFresh);
    }

    [Fact]
    public async Task Plan_InUse_IsRetiredNotDeleted_AndAnUnusedOneIsDeleted()
    {
        var (platform, _) = await fixture.PlatformAccountAsync("platform-retire-plan");
        var (dev, teamId) = await fixture.DemoDeveloperAsync();
        var offering = await OfferingAsync(platform, "postgresql");
        var key = $"legacy-{Suffix()}";
        var planId = await AddPlanAsync(platform, offering, key);
        var (instance, _) = await dev.RequestReadyAsync(teamId, "postgresql", key, $"on-legacy-{Suffix()}");

        Assert.Equal(HttpStatusCode.Forbidden, (await dev.SendAsync(HttpMethod.Post, $"/api/v1/offerings/{offering["id"]}/plans/{planId}/retire")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.SendAsync(HttpMethod.Delete, $"/api/v1/offerings/{offering["id"]}/plans/{planId}")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.SendAsync(HttpMethod.Get, "/api/v1/offerings?includeRetired=true")).Status);

        var (refused, problem, _) = await platform.SendAsync(HttpMethod.Delete, $"/api/v1/offerings/{offering["id"]}/plans/{planId}");
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Contains("1 live instance(s) use the plan", problem!["detail"]!.GetValue<string>());

        var (retired, plan, _) = await platform.SendAsync(HttpMethod.Post, $"/api/v1/offerings/{offering["id"]}/plans/{planId}/retire");
        Assert.Equal(HttpStatusCode.OK, retired);
        Assert.True(plan!["retired"]!.GetValue<bool>());

        // Out of the catalog for new requests; admins still see it; the instance keeps it.
        Assert.DoesNotContain(Plans(await OfferingAsync(dev, "postgresql")), p => p == key);
        var withRetired = (await platform.GetOkAsync("/api/v1/offerings?includeRetired=true")).AsArray()
            .Single(o => o!["key"]!.GetValue<string>() == "postgresql")!;
        Assert.True(withRetired["plans"]!.AsArray().Single(p => p!["key"]!.GetValue<string>() == key)!["retired"]!.GetValue<bool>());
        var (status, body, _) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering = "postgresql", plan = key, name = $"too-late-{Suffix()}" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body!["errors"]!["plan"]);
        Assert.Equal(key, (await dev.GetOkAsync($"/api/v1/instances/{instance}"))["instance"]!["planKey"]!.GetValue<string>());

        // Reinstated, it is back in the catalog.
        Assert.Equal(HttpStatusCode.OK, (await platform.SendAsync(HttpMethod.Post, $"/api/v1/offerings/{offering["id"]}/plans/{planId}/reinstate")).Status);
        Assert.Contains(Plans(await OfferingAsync(dev, "postgresql")), p => p == key);

        // A plan nothing ever used is deleted.
        var mistake = await AddPlanAsync(platform, offering, $"typo-{Suffix()}");
        Assert.Equal(HttpStatusCode.NoContent, (await platform.SendAsync(HttpMethod.Delete, $"/api/v1/offerings/{offering["id"]}/plans/{mistake}")).Status);
        Assert.DoesNotContain((await platform.GetOkAsync("/api/v1/offerings?includeRetired=true")).AsArray()
            .Single(o => o!["key"]!.GetValue<string>() == "postgresql")!["plans"]!.AsArray(), p => p!["id"]!.GetValue<string>() == mistake);

        // Deleted instances still name the plan: it stays on record.
        await dev.DeleteReadyAsync(instance);
        (refused, problem, _) = await platform.SendAsync(HttpMethod.Delete, $"/api/v1/offerings/{offering["id"]}/plans/{planId}");
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Contains("history of 1 deleted instance", problem!["detail"]!.GetValue<string>());

        var actions = await AuditActionsAsync(platform, "offering");
        Assert.Contains("offering.plan-retired", actions);
        Assert.Contains("offering.plan-reinstated", actions);
        Assert.Contains("offering.plan-deleted", actions);
    }

    [Fact]
    public async Task Team_WithLiveInstances_IsNotDeleted_AndAnEmptiedOneIsDeletedWithItsServiceAccounts()
    {
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam($"Sunset {Suffix()}", null)));
        var (owner, ownerAccount) = await fixture.TeamAccountAsync(team.Id, "owner");
        var (developer, _) = await fixture.TeamAccountAsync(team.Id, "developer");
        var (stranger, _) = await fixture.TeamAccountAsync(await fixture.DemoTeamIdAsync(), "owner");
        var (instance, _) = await owner.RequestReadyAsync(team.Id, "postgresql", "small", $"last-one-{Suffix()}");

        Assert.Equal(HttpStatusCode.Forbidden, (await developer.SendAsync(HttpMethod.Delete, $"/api/v1/teams/{team.Id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.SendAsync(HttpMethod.Delete, $"/api/v1/teams/{team.Id}")).Status);
        var (refused, problem, _) = await owner.SendAsync(HttpMethod.Delete, $"/api/v1/teams/{team.Id}");
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Contains("still has 1 instance(s) (last-one-", problem!["detail"]!.GetValue<string>());
        Assert.Equal(team.Name, (await owner.GetOkAsync($"/api/v1/teams/{team.Id}"))["name"]!.GetValue<string>());

        await owner.DeleteReadyAsync(instance);
        var (deleted, deletedBody, _) = await owner.SendAsync(HttpMethod.Delete, $"/api/v1/teams/{team.Id}");
        Assert.True(deleted == HttpStatusCode.NoContent, deletedBody?.ToJsonString() + await fixture.JobsReportAsync());

        // Gone for everyone, its service accounts can no longer get a token, and the audit trail keeps the story.
        var (platform, _) = await fixture.PlatformAccountAsync("platform-retire-team");
        Assert.Equal(HttpStatusCode.NotFound, (await platform.SendAsync(HttpMethod.Get, $"/api/v1/teams/{team.Id}")).Status);
        var token = await fixture.CreateClient().PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = ownerAccount.ClientId, ["client_secret"] = ownerAccount.ClientSecret,
        }), TestContext.Current.CancellationToken);
        Assert.False(token.IsSuccessStatusCode);
        var audit = (await platform.GetOkAsync($"/api/v1/audit?objectId={team.Id}"))["items"]!.AsArray();
        Assert.Contains(audit, e => e!["action"]!.GetValue<string>() == "team.deleted");
        var instanceAudit = (await platform.GetOkAsync($"/api/v1/audit?objectId={instance}"))["items"]!.AsArray();
        Assert.Contains(instanceAudit, e => e!["action"]!.GetValue<string>() == "instance.requested");
    }

    private static async Task<JsonNode> OfferingAsync(ApiClient api, string key) =>
        (await api.GetOkAsync("/api/v1/offerings")).AsArray().Single(o => o!["key"]!.GetValue<string>() == key)!;

    private static IEnumerable<string> Plans(JsonNode offering) => offering["plans"]!.AsArray().Select(p => p!["key"]!.GetValue<string>());

    private static async Task<string> AddPlanAsync(ApiClient platform, JsonNode offering, string key)
    {
        var (status, plan, _) = await platform.SendAsync(HttpMethod.Post, $"/api/v1/offerings/{offering["id"]}/plans",
            new { key, name = $"Plan {key}", monthlyCost = 5, limits = new Dictionary<string, int>() });
        Assert.True(status == HttpStatusCode.Created, plan?.ToJsonString());
        return plan!["id"]!.GetValue<string>();
    }

    private static async Task<List<string>> AuditActionsAsync(ApiClient platform, string objectType) =>
        (await platform.GetOkAsync($"/api/v1/audit?objectType={objectType}&pageSize=200"))["items"]!.AsArray()
            .Select(e => e!["action"]!.GetValue<string>()).ToList();

    private async Task<string> BackendOfAsync(Guid instanceId)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Portal.Data.PortalDbContext>();
        return (await db.Instances.FindAsync([instanceId], TestContext.Current.CancellationToken))!.BackendId.ToString();
    }
}
