using System.Net;
using System.Text.Json.Nodes;
using Hangfire;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Provisioning;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// A backend server that stops while requests for it are in flight and queued: their operations wait with a visible reason
/// instead of using up their attempts, and complete once the server is back; new requests go to a healthy backend, or are
/// told why there is none. The server is a private Redis of this class, stopped and started by <c>ops/backends/redis</c>.
/// </summary>
public sealed class BackendDownTests(BackendDownTests.Fixture fixture) : IClassFixture<BackendDownTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory
    {
        /// <summary>The private server's folder (config, users, endpoint); the shared dev servers are never stopped.</summary>
        public string ServerDirectory { get; } = Path.Combine(Path.GetTempPath(), $"portal-redis-down-{Guid.NewGuid():N}");

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // Failures that do count would use up all attempts in 0.2 s + 0.8 s; an unreachable server is asked every second.
            builder.UseSetting("Jobs:RetryBaseDelay", "00:00:00.2");
            builder.UseSetting("Jobs:MaxUnreachableDelay", "00:00:01");
            // One worker: a job that waits for its instance's lock holds it, so the jobs behind it stay queued until the test lets go.
            builder.UseSetting("Jobs:WorkerCount", "1");
            // The drift check would observe instances on the stopped server and hold the one worker meanwhile.
            builder.UseSetting("Reconcile:Schedule", Cron.Never());
        }

        public override async ValueTask InitializeAsync()
        {
            await base.InitializeAsync();
            await ServerAsync("start");
        }

        public override async ValueTask DisposeAsync()
        {
            await ServerAsync("stop");
            Directory.Delete(ServerDirectory, recursive: true);
            await base.DisposeAsync();
        }

        /// <summary>Starts or stops the private Redis with the repository's own script, serving TLS from the tests' CA.</summary>
        public async Task ServerAsync(string command)
        {
            var run = await OpsScripts.BashAsync(
                $"PORTAL_CA_DIR='{TestEnvironment.CaDirectory}' ops/backends/redis {command} '{ServerDirectory}'", TimeSpan.FromSeconds(90));
            Assert.True(run.ExitCode == 0, $"ops/backends/redis {command}: {run}");
        }

        public BackendEndpoint Endpoint => BackendEndpoint.Parse(File.ReadAllText(Path.Combine(ServerDirectory, "endpoint")).Trim());
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Private = "redis-private";

    [Fact]
    public async Task Requests_WhileTheirBackendIsStopped_WaitWithoutUsingAttempts_AndCompleteWhenItReturns()
    {
        var (platform, _) = await fixture.PlatformAccountAsync("platform-backend-down");
        var (dev, teamId) = await fixture.DemoDeveloperAsync();

        // The private server is the redis offering's only backend.
        var endpoint = fixture.Endpoint;
        var (created, backend, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/backends", new
        {
            name = Private, kind = "redis", host = endpoint.Host, port = endpoint.Port, adminUser = endpoint.AdminUser,
            adminPassword = endpoint.AdminPassword, site = "private", settings = endpoint.Settings,
        });
        Assert.True(created == HttpStatusCode.Created, backend?.ToJsonString());
        var privateId = backend!["id"]!.GetValue<string>();
        var offering = (await platform.GetOkAsync("/api/v1/offerings")).AsArray().Single(o => o!["key"]!.GetValue<string>() == "redis")!;
        var shared = offering["backendIds"]!.AsArray().Select(i => i!.GetValue<string>()).Single();
        var (set, setBody, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends", new { backendIds = new[] { privateId } });
        Assert.True(set == HttpStatusCode.OK, setBody?.ToJsonString());

        var (cacheA, _) = await dev.RequestReadyAsync(teamId, "redis", "shared", "cache-a");
        var (_, appA) = await dev.BindReadyAsync(cacheA, "app-a");
        await AppConnections.RoundTripAsync("redis", appA, Ct);

        // A bind is in flight (its job runs, waiting for the instance's lock) when the server stops; three requests queue behind it.
        Guid bindOperation;
        var provisions = new List<(Guid Instance, Guid Operation)>();
        await using (await HoldInstanceAsync(cacheA))
        {
            var (bindStatus, bindBody, bindResponse) = await dev.SendAsync(HttpMethod.Post, $"/api/v1/instances/{cacheA}/bindings", new { appName = "app-b" });
            Assert.True(bindStatus == HttpStatusCode.Accepted, bindBody?.ToJsonString());
            bindOperation = OperationOf(bindResponse);
            await ApiClient.WaitUntilAsync(async () => await JobStateAsync(bindOperation) == ProcessingState.StateName, "the bind job to be running");

            await fixture.ServerAsync("stop");
            foreach (var name in new[] { "cache-1", "cache-2", "cache-3" })
            {
                // Nothing has tried the server since it stopped: the portal does not know yet, and accepts.
                var (status, body, response) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId, offering = "redis", plan = "shared", name });
                Assert.True(status == HttpStatusCode.Accepted, $"{name}: {(int)status} {body?.ToJsonString()}");
                provisions.Add((Guid.Parse(body!["value"]!["id"]!.GetValue<string>()), OperationOf(response)));
            }
        }

        // Each asks the server again and again, well past the attempts a failure may use, and none of it counts.
        foreach (var (instance, operation) in provisions)
        {
            var waiting = await dev.WaitForAsync($"/api/v1/operations/{operation}",
                o => o["state"]!.GetValue<string>() == "Failed" || UnreachableTries(o) > OperationJob.MaxAttempts + 1,
                "the provision to ask the stopped server more often than it has attempts", seconds: 120);
            Assert.True(waiting["state"]!.GetValue<string>() is "Queued" or "Running", waiting.ToJsonString());
            Assert.InRange(waiting["attempts"]!.GetValue<int>(), 0, 1);
            var details = await dev.GetOkAsync($"/api/v1/instances/{instance}");
            Assert.Equal("Provisioning", details["instance"]!["state"]!.GetValue<string>());
            Assert.Equal($"Waiting: backend {Private} unreachable, retrying", details["instance"]!["statusMessage"]!.GetValue<string>());
        }

        var bindWaiting = await dev.GetOkAsync($"/api/v1/operations/{bindOperation}");
        Assert.True(bindWaiting["state"]!.GetValue<string>() is "Queued" or "Running", bindWaiting.ToJsonString());
        Assert.True(UnreachableTries(bindWaiting) > 0, bindWaiting.ToJsonString());
        var down = await BackendViewAsync(platform, Private);
        Assert.False(down["lastCheckHealthy"]!.GetValue<bool>());
        Assert.StartsWith("Unreachable from an operation", down["lastCheckMessage"]!.GetValue<string>());

        // The only backend is known down: a new request is refused with the reason, and nothing is made.
        var (refused, problem, refusal) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId, offering = "redis", plan = "shared", name = "cache-refused" });
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Equal("application/problem+json", refusal.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"{Private} failed its last health check", problem!["detail"]!.GetValue<string>());
        Assert.Empty((await dev.GetOkAsync("/api/v1/instances?search=cache-refused"))["items"]!.AsArray());

        // With a healthy backend beside it, the request goes there.
        (set, setBody, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends", new { backendIds = new[] { privateId, shared } });
        Assert.True(set == HttpStatusCode.OK, setBody?.ToJsonString());
        var (elsewhere, _) = await dev.RequestReadyAsync(teamId, "redis", "shared", "cache-elsewhere");
        Assert.Equal(shared, await BackendOfAsync(elsewhere));
        var (_, elsewhereApp) = await dev.BindReadyAsync(elsewhere, "app-elsewhere");
        await AppConnections.RoundTripAsync("redis", elsewhereApp, Ct);
        await dev.DeleteReadyAsync(elsewhere);

        // The server is back: everything that waited completes, with one attempt each, and the backend is healthy again.
        await fixture.ServerAsync("start");
        foreach (var (instance, operation) in provisions)
        {
            var ready = await dev.WaitForAsync($"/api/v1/instances/{instance}",
                i => i["instance"]!["state"]!.GetValue<string>() is "Ready" or "Failed", "the waiting instance to be Ready", seconds: 120);
            Assert.True(ready["instance"]!["state"]!.GetValue<string>() == "Ready", ready.ToJsonString());
            Assert.Null(ready["instance"]!["statusMessage"]);
            var done = await dev.GetOkAsync($"/api/v1/operations/{operation}");
            Assert.Equal("Succeeded", done["state"]!.GetValue<string>());
            Assert.Equal(1, done["attempts"]!.GetValue<int>());
            Assert.Equal(privateId, await BackendOfAsync(instance));
        }

        var bound = await dev.WaitForAsync($"/api/v1/operations/{bindOperation}",
            o => o["state"]!.GetValue<string>() is "Succeeded" or "Failed", "the waiting bind to finish", seconds: 120);
        Assert.True(bound["state"]!.GetValue<string>() == "Succeeded", bound.ToJsonString());
        var bindings = await dev.GetOkAsync($"/api/v1/instances/{cacheA}/bindings");
        var appB = bindings.AsArray().Single(b => b!["appName"]!.GetValue<string>() == "app-b")!["id"]!.GetValue<string>();
        await AppConnections.RoundTripAsync("redis", (await dev.GetOkAsync($"/api/v1/instances/{cacheA}/bindings/{appB}/credentials"))["credentials"]!, Ct);
        await AppConnections.RoundTripAsync("redis", appA, Ct);
        var (_, appOnWaited) = await dev.BindReadyAsync(provisions[0].Instance, "app-1");
        await AppConnections.RoundTripAsync("redis", appOnWaited, Ct);

        var up = await BackendViewAsync(platform, Private);
        Assert.True(up["lastCheckHealthy"]!.GetValue<bool>(), up.ToJsonString());
    }

    [Fact]
    public async Task RecurringChecks_SwitchedOffByTheirDocumentedSettings_DoNotRunDuringTheTest()
    {
        // Backends:HealthSchedule and Bindings:RenewalSchedule (PortalAppFactory), Reconcile:Schedule (this fixture): a health
        // check in the middle of the test above would mark the stopped server down with a message of its own.
        string[] off = [Portal.Application.Backends.BackendHealthJob.RecurringJobId, Portal.Application.Bindings.CertificateRenewalJob.RecurringJobId,
            Portal.Application.Reconcile.ReconcileJob.RecurringJobId];
        List<RecurringJobDto> registered = [];
        await ApiClient.WaitUntilAsync(() =>
        {
            using var connection = fixture.Services.GetRequiredService<JobStorage>().GetConnection();
            registered = connection.GetRecurringJobs();
            return Task.FromResult(off.All(id => registered.Any(j => j.Id == id)));
        }, "the recurring jobs to be registered");

        Assert.All(off, id => Assert.Equal(Cron.Never(), registered.Single(j => j.Id == id).Cron));
    }

    /// <summary>How often the operation found its backend unreachable, from its progress lines.</summary>
    private static int UnreachableTries(JsonNode operation) =>
        operation["lines"]!.AsArray().Count(l => l!["message"]!.GetValue<string>().StartsWith($"Backend {Private} unreachable", StringComparison.Ordinal));

    private static Guid OperationOf(HttpResponseMessage accepted) =>
        Guid.Parse(accepted.Headers.Location!.OriginalString["/api/v1/operations/".Length..]);

    private static async Task<JsonNode> BackendViewAsync(ApiClient platform, string name) =>
        (await platform.GetOkAsync("/api/v1/backends")).AsArray().Single(b => b!["name"]!.GetValue<string>() == name)!;

    /// <summary>The instance's lock, as a worker running one of its operations holds it.</summary>
    private async Task<InstanceLock> HoldInstanceAsync(Guid instanceId)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        return await InstanceLock.AcquireAsync(scope.ServiceProvider.GetRequiredService<PortalDbContext>(), instanceId, Ct);
    }

    /// <summary>The Hangfire state of the operation's current job.</summary>
    private async Task<string?> JobStateAsync(Guid operationId)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
        var jobId = await db.Operations.Where(o => o.Id == operationId).Select(o => o.JobId).SingleAsync(Ct);
        using var connection = fixture.Services.GetRequiredService<JobStorage>().GetConnection();
        return jobId is null ? null : connection.GetJobData(jobId)?.State;
    }

    private async Task<string> BackendOfAsync(Guid instanceId)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
        return (await db.Instances.FindAsync([instanceId], Ct))!.BackendId.ToString();
    }
}
