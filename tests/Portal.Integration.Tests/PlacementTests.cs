using System.Net;
using Portal.Application.Backends;
using Portal.Application.Teams;
using Microsoft.Extensions.DependencyInjection;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// Placement through the REST API: an offering on backends at two sites with capacities; requests go to
/// the named site's backend with the most room, and are refused clearly (nothing created) when none is left.
/// </summary>
public sealed class PlacementTests(PlacementTests.Fixture fixture) : IClassFixture<PlacementTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    [Fact]
    public async Task Requests_PlacedBySiteAndHeadroom_RefusedWhenFull()
    {
        var (platform, _) = await fixture.PlatformAccountAsync("platform-placement");
        var (dev, teamId) = await fixture.DemoDeveloperAsync();

        // Three backend records on the real server: dc1 with room for 1 and 2, dc2 with room for 1.
        var real = TestEnvironment.Backend;
        async Task<string> RegisterAsync(string name, string site, int capacity)
        {
            var (status, body, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/backends", new
            {
                name, kind = "postgresql", host = real.Host, port = real.Port, adminUser = real.Username, adminPassword = real.Password,
                site, capacity,
            });
            Assert.True(status == HttpStatusCode.Created, body?.ToJsonString());
            return body!["id"]!.GetValue<string>();
        }

        var small = await RegisterAsync("pg-dc1-a", "dc1", 1);
        var large = await RegisterAsync("pg-dc1-b", "dc1", 2);
        var remote = await RegisterAsync("pg-dc2", "dc2", 1);
        var offering = (await platform.GetOkAsync("/api/v1/offerings")).AsArray().Single(o => o!["key"]!.GetValue<string>() == "postgresql")!;
        var (set, setBody, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends",
            new { backendIds = new[] { small, large, remote } });
        Assert.True(set == HttpStatusCode.OK, setBody?.ToJsonString());
        Assert.Equal(["dc1", "dc2"], setBody!["sites"]!.AsArray().Select(s => s!.GetValue<string>()));

        // dc1: the backend with most room first (b: 2 free), then a and b tie at 1 (fewer instances wins: a), then b.
        var placed = new List<string>();
        foreach (var name in new[] { "placed-1", "placed-2", "placed-3" })
        {
            var (id, _) = await dev.RequestReadyAsync(teamId, "postgresql", "medium", name, site: "dc1");
            placed.Add(await BackendOfAsync(id));
        }

        Assert.Equal([large, small, large], placed);

        // dc1 is full: 409 naming the backends' use; nothing is created.
        var (full, problem, _) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering = "postgresql", plan = "medium", name = "one-too-many", site = "dc1" });
        Assert.Equal(HttpStatusCode.Conflict, full);
        Assert.Contains("at site dc1 has room", problem!["detail"]!.GetValue<string>());
        Assert.Contains("pg-dc1-b holds 2 of 2", problem["detail"]!.GetValue<string>());
        Assert.Empty((await dev.GetOkAsync("/api/v1/instances?search=one-too-many"))["items"]!.AsArray());

        // Without a site the request goes where there is room: dc2.
        var (elsewhere, _) = await dev.RequestReadyAsync(teamId, "postgresql", "medium", "anywhere");
        Assert.Equal(remote, await BackendOfAsync(elsewhere));

        // A site the offering is not at is a validation error naming the sites.
        var (unknown, unknownBody, _) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering = "postgresql", plan = "medium", name = "far-away", site = "dc9" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown);
        Assert.Contains("Sites: dc1, dc2", unknownBody!["errors"]!["site"]![0]!.GetValue<string>());

        // The admin list shows each backend's use against its capacity.
        var backends = (await platform.GetOkAsync("/api/v1/backends")).AsArray();
        Assert.Equal(2, backends.Single(b => b!["name"]!.GetValue<string>() == "pg-dc1-b")!["instances"]!.GetValue<int>());
        Assert.Equal(1, backends.Single(b => b!["name"]!.GetValue<string>() == "pg-dc2")!["instances"]!.GetValue<int>());

        // A deleted instance frees its place.
        var firstOnSmall = (await dev.GetOkAsync("/api/v1/instances?search=placed-2"))["items"]![0]!["id"]!.GetValue<string>();
        await dev.DeleteReadyAsync(Guid.Parse(firstOnSmall));
        var (again, _) = await dev.RequestReadyAsync(teamId, "postgresql", "medium", "placed-again", site: "dc1");
        Assert.Equal(small, await BackendOfAsync(again));
    }

    [Fact]
    public async Task HealthJob_MarksUnreachableBackendDown_AndPlacementSkipsIt()
    {
        var (platform, _) = await fixture.PlatformAccountAsync("platform-health");
        var real = TestEnvironment.Backend;
        var (_, down, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/backends", new
        {
            name = "pg-down", kind = "postgresql", host = real.Host, port = real.Port, adminUser = real.Username, adminPassword = "wrong",
            site = "dc3",
        });
        var offering = (await platform.GetOkAsync("/api/v1/offerings")).AsArray().Single(o => o!["key"]!.GetValue<string>() == "postgresql")!;
        var ids = offering["backendIds"]!.AsArray().Select(i => i!.GetValue<string>()).Append(down!["id"]!.GetValue<string>()).ToArray();
        await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends", new { backendIds = ids });

        await fixture.RunAsync<BackendHealthJob, bool>(async job =>
        {
            await job.RunAsync(TestContext.Current.CancellationToken);
            return true;
        });

        var backends = (await platform.GetOkAsync("/api/v1/backends")).AsArray();
        var downView = backends.Single(b => b!["name"]!.GetValue<string>() == "pg-down")!;
        Assert.False(downView["lastCheckHealthy"]!.GetValue<bool>());
        Assert.Contains("password authentication failed", downView["lastCheckMessage"]!.GetValue<string>());
        Assert.True(backends.Single(b => b!["name"]!.GetValue<string>() == "demo-postgres")!["lastCheckHealthy"]!.GetValue<bool>());

        var (dev, teamId) = await fixture.DemoDeveloperAsync();
        var (status, problem, _) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering = "postgresql", plan = "medium", name = "on-a-dead-one", site = "dc3" });
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("pg-down failed its last health check", problem!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task BackendWithWorkerQueue_ItsOperationsWaitOnThatQueueForTheWorkerBesideIt()
    {
        var (platform, _) = await fixture.PlatformAccountAsync("platform-queues");
        var real = TestEnvironment.Backend;
        var (status, backend, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/backends", new
        {
            name = "pg-remote", kind = "postgresql", host = real.Host, port = real.Port, adminUser = real.Username, adminPassword = real.Password,
            site = "dc7", workerQueue = "dc7-workers",
        });
        Assert.True(status == HttpStatusCode.Created, backend?.ToJsonString());
        Assert.Equal("dc7-workers", backend!["workerQueue"]!.GetValue<string>());
        var (bad, problem, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/backends", new
        {
            name = "pg-bad-queue", kind = "postgresql", host = real.Host, port = real.Port, adminUser = real.Username, adminPassword = real.Password,
            workerQueue = "Not A Queue",
        });
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.NotNull(problem!["errors"]!["workerQueue"]);

        var offering = (await platform.GetOkAsync("/api/v1/offerings")).AsArray().Single(o => o!["key"]!.GetValue<string>() == "postgresql")!;
        var ids = offering["backendIds"]!.AsArray().Select(i => i!.GetValue<string>()).Append(backend["id"]!.GetValue<string>()).ToArray();
        await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends", new { backendIds = ids });

        var (dev, teamId) = await fixture.DemoDeveloperAsync();
        var (accepted, body, _) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering = "postgresql", plan = "medium", name = "far-db", site = "dc7" });
        Assert.Equal(HttpStatusCode.Accepted, accepted);

        // No worker here serves dc7-workers: the job waits on that queue, and the instance waits for it.
        var storage = fixture.Services.GetRequiredService<Hangfire.JobStorage>();
        var waiting = storage.GetMonitoringApi().EnqueuedJobs("dc7-workers", 0, 10);
        Assert.Single(waiting);
        await Task.Delay(2000, TestContext.Current.CancellationToken);
        var instance = await dev.GetOkAsync($"/api/v1/instances/{body!["value"]!["id"]}");
        Assert.Equal("Provisioning", instance["instance"]!["state"]!.GetValue<string>());
        Assert.Equal("Queued", instance["operations"]![0]!["state"]!.GetValue<string>());
    }

    private async Task<string> BackendOfAsync(Guid instanceId)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Portal.Data.PortalDbContext>();
        return (await db.Instances.FindAsync([instanceId], TestContext.Current.CancellationToken))!.BackendId.ToString();
    }
}
