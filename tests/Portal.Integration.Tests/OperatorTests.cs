using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Portal.Application.Teams;
using Portal.Data;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// The operator's way out through <c>/api/v1/operations</c>: operations that do not finish are listed, retried or failed
/// with a reason by platform admins (audited), and refused to everyone else. An operation is stuck honestly here: its
/// backend's worker queue is one that no worker serves (a site worker that went away), so its job waits in that queue.
/// </summary>
public sealed class OperatorTests(OperatorTests.Fixture fixture) : IClassFixture<OperatorTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StuckOperation_ListedOnceOlderThanN_RetriedByAnAdmin_Succeeds()
    {
        var (platform, account) = await fixture.PlatformAccountAsync("operator-retry");
        var (dev, teamId) = await fixture.DemoDeveloperAsync();
        var backendId = await RegisterUnservedBackendAsync(platform, "site-gone");
        var (instanceId, operationId) = await RequestStuckAsync(dev, teamId, "stuck-db", "site-gone");

        // Just requested: too young for 5 minutes; once it has waited 20 minutes it is listed at 15 and at the default 10.
        Assert.DoesNotContain((await platform.GetOkAsync("/api/v1/operations/stuck?olderThanMinutes=5")).AsArray(), o => IdOf(o!) == operationId);
        await BackdateAsync(operationId, TimeSpan.FromMinutes(20));
        var stuck = (await platform.GetOkAsync("/api/v1/operations/stuck?olderThanMinutes=15")).AsArray().Single(o => IdOf(o!) == operationId)!;
        Assert.Equal("stuck-db", stuck["instanceName"]!.GetValue<string>());
        Assert.Equal(instanceId.ToString(), stuck["instanceId"]!.GetValue<string>());
        Assert.Equal("Provision", stuck["kind"]!.GetValue<string>());
        Assert.Equal("Queued", stuck["state"]!.GetValue<string>());
        Assert.Equal(0, stuck["attempts"]!.GetValue<int>());
        Assert.Equal("pg-site-gone", stuck["backendName"]!.GetValue<string>());
        Assert.NotNull(stuck["jobId"]);
        Assert.Contains((await platform.GetOkAsync("/api/v1/operations/stuck")).AsArray(), o => IdOf(o!) == operationId);

        // The platform team moves the backend to the central workers and retries: the same operation runs and succeeds.
        await MoveToCentralWorkersAsync(platform, backendId);
        var (retried, view, _) = await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/retry");
        Assert.True(retried == HttpStatusCode.OK, view?.ToJsonString());
        Assert.Equal(operationId, IdOf(view!));
        var done = await dev.WaitForAsync($"/api/v1/operations/{operationId}",
            o => o["state"]!.GetValue<string>() is "Succeeded" or "Failed", "the retried operation to finish");
        Assert.True(done["state"]!.GetValue<string>() == "Succeeded", done.ToJsonString());
        Assert.Equal(1, done["attempts"]!.GetValue<int>());
        Assert.Contains(done["lines"]!.AsArray(), l => l!["message"]!.GetValue<string>() == $"Retried by {account.ClientId}");
        Assert.Equal("Ready", (await dev.GetOkAsync($"/api/v1/instances/{instanceId}"))["instance"]!["state"]!.GetValue<string>());
        Assert.DoesNotContain((await platform.GetOkAsync("/api/v1/operations/stuck?olderThanMinutes=0")).AsArray(), o => IdOf(o!) == operationId);

        var audit = (await platform.GetOkAsync($"/api/v1/audit?action=operation.retried&objectId={operationId}"))["items"]!.AsArray();
        var retriedEvent = Assert.Single(audit)!;
        Assert.Equal("service-account", retriedEvent["actorKind"]!.GetValue<string>());
        Assert.Equal(account.ClientId, retriedEvent["actorName"]!.GetValue<string>());
        Assert.Equal(teamId.ToString(), retriedEvent["teamId"]!.GetValue<string>());

        // A finished operation is not retried again.
        AssertProblem(await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/retry"), HttpStatusCode.Conflict);
        await dev.DeleteReadyAsync(instanceId);
    }

    [Fact]
    public async Task StuckOperation_FailedByAnAdminWithAReason_TeamSeesTheReason_AuditedAndCountedAsAnyFailure()
    {
        var (platform, account) = await fixture.PlatformAccountAsync("operator-fail");
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Operator failures", null)));
        var (dev, _) = await fixture.TeamAccountAsync(team.Id, "developer");
        var backendId = await RegisterUnservedBackendAsync(platform, "site-lost");
        Assert.Equal(0, await InstancesInQuotaAsync(dev, team.Id));
        var (instanceId, operationId) = await RequestStuckAsync(dev, team.Id, "lost-db", "site-lost");
        Assert.Equal(1, await InstancesInQuotaAsync(dev, team.Id));

        const string reason = "The site-lost worker is gone for good; request the database again without a site.";
        var (failed, view, _) = await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/fail", new { reason });
        Assert.True(failed == HttpStatusCode.OK, view?.ToJsonString());
        Assert.Equal("Failed", view!["state"]!.GetValue<string>());
        Assert.Equal($"Failed by a platform admin ({account.ClientId}): {reason}", view["error"]!.GetValue<string>());

        // The team sees the reason on the instance and in the operation's progress.
        var details = await dev.GetOkAsync($"/api/v1/instances/{instanceId}");
        Assert.Equal("Failed", details["instance"]!["state"]!.GetValue<string>());
        Assert.Contains(reason, details["instance"]!["statusMessage"]!.GetValue<string>());
        var operation = await dev.GetOkAsync($"/api/v1/operations/{operationId}");
        Assert.Equal("Failed", operation["state"]!.GetValue<string>());
        Assert.NotNull(operation["finishedAt"]);
        Assert.Contains(operation["lines"]!.AsArray(), l => l!["message"]!.GetValue<string>().Contains(reason, StringComparison.Ordinal));
        Assert.DoesNotContain((await platform.GetOkAsync("/api/v1/operations/stuck?olderThanMinutes=0")).AsArray(), o => IdOf(o!) == operationId);

        var audit = (await platform.GetOkAsync($"/api/v1/audit?action=provision.failed&objectId={instanceId}"))["items"]!.AsArray();
        var failedEvent = Assert.Single(audit)!;
        Assert.Equal("service-account", failedEvent["actorKind"]!.GetValue<string>());
        Assert.Equal(account.ClientId, failedEvent["actorName"]!.GetValue<string>());
        Assert.Contains(reason, failedEvent["details"]!.GetValue<string>());

        // As after a job that gave up: the Failed instance keeps its place in the quota (its team may retry it) until deleted.
        Assert.Equal(1, await InstancesInQuotaAsync(dev, team.Id));
        AssertProblem(await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/fail", new { reason }), HttpStatusCode.Conflict);
        AssertProblem(await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/retry"), HttpStatusCode.Conflict);
        await MoveToCentralWorkersAsync(platform, backendId);
        await dev.DeleteReadyAsync(instanceId);
        Assert.Equal(0, await InstancesInQuotaAsync(dev, team.Id));
    }

    [Fact]
    public async Task OperationsApi_NonAdminsUnknownIdsBadInputAndFinishedOperations_AreRefusedWithProblemDetails()
    {
        var (platform, _) = await fixture.PlatformAccountAsync("operator-refusals");
        var (dev, teamId) = await fixture.DemoDeveloperAsync();
        await RegisterUnservedBackendAsync(platform, "site-idle");
        var (_, operationId) = await RequestStuckAsync(dev, teamId, "idle-db", "site-idle");
        await BackdateAsync(operationId, TimeSpan.FromMinutes(20));

        // A team developer may follow the team's operation, and nothing more.
        Assert.Equal(operationId, IdOf(await dev.GetOkAsync($"/api/v1/operations/{operationId}")));
        AssertProblem(await dev.SendAsync(HttpMethod.Get, "/api/v1/operations/stuck?olderThanMinutes=0"), HttpStatusCode.Forbidden);
        AssertProblem(await dev.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/retry"), HttpStatusCode.Forbidden);
        AssertProblem(await dev.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/fail", new { reason = "I want it gone" }), HttpStatusCode.Forbidden);
        // Another team does not learn that the operation exists.
        var admin = await fixture.AdminAsync();
        var other = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Operator strangers", null)));
        var (stranger, _) = await fixture.TeamAccountAsync(other.Id, "owner");
        AssertProblem(await stranger.SendAsync(HttpMethod.Get, $"/api/v1/operations/{operationId}"), HttpStatusCode.NotFound);
        AssertProblem(await stranger.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/retry"), HttpStatusCode.Forbidden);

        var unknown = Guid.NewGuid();
        AssertProblem(await platform.SendAsync(HttpMethod.Get, $"/api/v1/operations/{unknown}"), HttpStatusCode.NotFound);
        AssertProblem(await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{unknown}/retry"), HttpStatusCode.NotFound);
        AssertProblem(await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{unknown}/fail", new { reason = "No such thing" }), HttpStatusCode.NotFound);

        var noReason = AssertProblem(await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/fail", new { }), HttpStatusCode.BadRequest);
        Assert.NotNull(noReason["errors"]!["reason"]);
        var blank = AssertProblem(await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/fail", new { reason = "  " }), HttpStatusCode.BadRequest);
        Assert.NotNull(blank["errors"]!["reason"]);
        // Without a body at all, or with one that is not JSON: the route answers, not "no such route".
        AssertProblem(await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{operationId}/fail"), HttpStatusCode.BadRequest);
        using (var text = new StringContent("reason=because", System.Text.Encoding.UTF8, "text/plain"))
        {
            var response = await platform.Http.PostAsync($"/api/v1/operations/{operationId}/fail", text, Ct);
            var body = await response.Content.ReadAsStringAsync(Ct);
            AssertProblem((response.StatusCode, JsonNode.Parse(body), response), HttpStatusCode.UnsupportedMediaType);
        }

        AssertProblem(await platform.SendAsync(HttpMethod.Get, "/api/v1/operations/not-an-id"), HttpStatusCode.NotFound);
        AssertProblem(await platform.SendAsync(HttpMethod.Post, "/api/v1/no-such-thing", new { reason = "x" }), HttpStatusCode.NotFound);
        var badAge = AssertProblem(await platform.SendAsync(HttpMethod.Get, "/api/v1/operations/stuck?olderThanMinutes=-1"), HttpStatusCode.BadRequest);
        Assert.NotNull(badAge["errors"]!["olderThanMinutes"]);

        // None of the refusals touched it.
        var untouched = (await platform.GetOkAsync("/api/v1/operations/stuck?olderThanMinutes=15")).AsArray().Single(o => IdOf(o!) == operationId)!;
        Assert.Equal("Queued", untouched["state"]!.GetValue<string>());

        // A finished operation can be neither retried nor failed.
        var (_, ready) = await dev.RequestReadyAsync(teamId, "postgresql", "small", "finished-db");
        var provision = Guid.Parse(ready["operations"]!.AsArray().Single()!["id"]!.GetValue<string>());
        var finished = AssertProblem(await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{provision}/retry"), HttpStatusCode.Conflict);
        Assert.Contains("has finished (Succeeded)", finished["detail"]!.GetValue<string>());
        AssertProblem(await platform.SendAsync(HttpMethod.Post, $"/api/v1/operations/{provision}/fail", new { reason = "Too late for that" }), HttpStatusCode.Conflict);
        Assert.Equal("Succeeded", (await platform.GetOkAsync($"/api/v1/operations/{provision}"))["state"]!.GetValue<string>());
        await dev.DeleteReadyAsync(Guid.Parse(ready["instance"]!["id"]!.GetValue<string>()));
    }

    private static Guid IdOf(JsonNode node) => Guid.Parse(node["id"]!.GetValue<string>());

    /// <summary>Asserts an RFC 9457 Problem Details answer with the status, and returns its body.</summary>
    private static JsonNode AssertProblem((HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response) answer, HttpStatusCode expected)
    {
        Assert.True(answer.Status == expected, $"{answer.Response.RequestMessage?.Method} {answer.Response.RequestMessage?.RequestUri}: expected {(int)expected}, got {(int)answer.Status} {answer.Body?.ToJsonString()}");
        Assert.Equal("application/problem+json", answer.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)expected, answer.Body!["status"]!.GetValue<int>());
        return answer.Body;
    }

    /// <summary>
    /// The real PostgreSQL server registered once more, alone at the site <paramref name="site"/>, with a worker queue that
    /// no worker serves (its site worker is gone), and offered.
    /// </summary>
    private static async Task<string> RegisterUnservedBackendAsync(ApiClient platform, string site)
    {
        var real = TestEnvironment.Backend;
        var (created, backend, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/backends", new
        {
            name = $"pg-{site}", kind = "postgresql", host = real.Host, port = real.Port, adminUser = real.Username, adminPassword = real.Password,
            site, workerQueue = $"{site}-workers",
        });
        Assert.True(created == HttpStatusCode.Created, backend?.ToJsonString());
        var offering = (await platform.GetOkAsync("/api/v1/offerings")).AsArray().Single(o => o!["key"]!.GetValue<string>() == "postgresql")!;
        var ids = offering["backendIds"]!.AsArray().Select(i => i!.GetValue<string>()).Append(backend!["id"]!.GetValue<string>()).ToArray();
        var (set, setBody, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends", new { backendIds = ids });
        Assert.True(set == HttpStatusCode.OK, setBody?.ToJsonString());
        return backend["id"]!.GetValue<string>();
    }

    /// <summary>The backend's operations go to the portal's own workers (the default queue) from now on.</summary>
    private static async Task MoveToCentralWorkersAsync(ApiClient platform, string backendId)
    {
        var real = TestEnvironment.Backend;
        var (status, body, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/backends/{backendId}",
            new { host = real.Host, port = real.Port, adminUser = real.Username, adminPassword = "", workerQueue = "" });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
    }

    /// <summary>Requests a database at the unserved site: accepted, and its provision waits in that site's queue.</summary>
    private static async Task<(Guid Instance, Guid Operation)> RequestStuckAsync(ApiClient dev, Guid teamId, string name, string site)
    {
        var (status, body, response) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId, offering = "postgresql", plan = "small", name, site });
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body?.ToJsonString()}");
        var operation = Guid.Parse(response.Headers.Location!.OriginalString["/api/v1/operations/".Length..]);
        var queued = await dev.GetOkAsync($"/api/v1/operations/{operation}");
        Assert.Equal("Queued", queued["state"]!.GetValue<string>());
        return (Guid.Parse(body!["value"]!["id"]!.GetValue<string>()), operation);
    }

    /// <summary>As if the operation had been requested <paramref name="ago"/> ago (the test does not wait that long).</summary>
    private async Task BackdateAsync(Guid operationId, TimeSpan ago)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
        var at = DateTimeOffset.UtcNow - ago;
        Assert.Equal(1, await db.Operations.Where(o => o.Id == operationId).ExecuteUpdateAsync(s => s.SetProperty(o => o.CreatedAt, at), Ct));
    }

    private static async Task<int> InstancesInQuotaAsync(ApiClient api, Guid teamId) =>
        (await api.GetOkAsync($"/api/v1/teams/{teamId}/quota"))["use"]!["instances"]!.GetValue<int>();
}
