using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Hangfire;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Npgsql;
using Portal.Application.Accounts;
using Portal.Application.Teams;
using Portal.Data;
using Portal.Domain.Instances;
using Portal.Domain.Operations;
using Portal.Provisioning.Redis;
using Portal.Testing;
using StackExchange.Redis;

namespace Portal.E2E;

/// <summary>
/// Several hosts, one portal: two <c>Portal.Web</c> processes (no job server) behind HAProxy, with the configuration
/// `ops/portal cluster` uses (ops/lib/haproxy.sh), and <c>Portal.Worker</c> processes, all on one fresh portal database.
/// Operations run exactly once across worker processes, a page on one web host shows the progress of an operation a
/// worker process runs, and the portal survives the death of a web host.
/// </summary>
public sealed class ClusterTests(ClusterTests.Cluster cluster) : IClassFixture<ClusterTests.Cluster>
{
    /// <summary>
    /// The database (made, migrated and seeded by <see cref="PortalAppFactory"/>), two web processes, HAProxy, Chromium,
    /// and a developer service account of the demo team signed in through HAProxy. The factory's own in-process host
    /// runs no jobs: the tests use it only to create the service account and to read the database.
    /// </summary>
    public sealed class Cluster : PortalAppFactory
    {
        private IPlaywright? _playwright;

        public WebProcess[] Web { get; } = new WebProcess[2];

        public HaproxyProcess Proxy { get; private set; } = null!;

        public IBrowser Browser { get; private set; } = null!;

        /// <summary>The REST API through HAProxy, with a bearer token of a demo-team developer.</summary>
        public HttpClient Api { get; private set; } = null!;

        public Guid TeamId { get; private set; }

        public string PublicIssuer { get; private set; } = "";

        private int[] _ports = [];

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Jobs:RunServer", "false");
        }

        /// <summary>What each web process gets beyond <see cref="WebProcess"/>'s defaults.</summary>
        public Dictionary<string, string> WebSettings => new()
        {
            ["Auth:Issuer"] = PublicIssuer,
            ["ForwardedHeaders:KnownProxies:0"] = "127.0.0.1",
            ["Quotas:Defaults:MaxInstances"] = "1000",
            ["Quotas:Defaults:MaxMonthlyCost"] = "100000000",
        };

        /// <summary>
        /// What each worker process gets: the default number of job workers (as a host would run), and no recurring jobs
        /// that could touch the backends mid-test.
        /// </summary>
        public Dictionary<string, string> WorkerSettings(params string[] queues)
        {
            var settings = new Dictionary<string, string>
            {
                ["Auth:Issuer"] = PublicIssuer,
                ["Backends:HealthSchedule"] = Cron.Never(),
                ["Bindings:RenewalSchedule"] = Cron.Never(),
                ["Reconcile:Schedule"] = Cron.Never(),
            };
            for (var i = 0; i < queues.Length; i++)
            {
                settings[$"Jobs:Queues:{i}"] = queues[i];
            }

            return settings;
        }

        public override async ValueTask InitializeAsync()
        {
            var chromium = TestEnvironment.Chromium;
            HaproxyProcess.RequireInstalled();
            TestEnvironment.BackendOf("redis");
            TestEnvironment.BackendOf("etcd");
            await base.InitializeAsync();

            _ports = WebProcess.FreePorts(4);
            PublicIssuer = $"https://127.0.0.1:{_ports[2]}/";
            var ct = TestContext.Current.CancellationToken;
            var web = await Task.WhenAll(StartWebAsync(0, ct), StartWebAsync(1, ct));
            web.CopyTo(Web, 0);
            Proxy = await HaproxyProcess.StartAsync(_ports[2], _ports[3], [_ports[0], _ports[1]], ct);

            _playwright = await Playwright.CreateAsync();
            Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run"],
            });

            var admin = await AdminAsync();
            TeamId = (await RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin))).Single(t => t.Slug == "demo").Id;
            var account = await RunAsync<CreateServiceAccountHandler, ServiceAccountCreated>(
                h => h.HandleAsync(admin, TeamId, new CreateServiceAccount("cluster-test", "developer")));
            Api = new HttpClient(HaproxyProcess.TrustingPlatformCa()) { BaseAddress = Proxy.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
            using var token = await Api.PostAsync("connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = account.ClientId,
                ["client_secret"] = account.ClientSecret,
            }), ct);
            var body = await token.Content.ReadAsStringAsync(ct);
            Assert.True(token.IsSuccessStatusCode, $"The token request through HAProxy answered {(int)token.StatusCode}: {body}");
            var tokenJson = JsonNode.Parse(body)!;
            Assert.Equal(PublicIssuer, DecodeIssuer(tokenJson["access_token"]!.GetValue<string>()));
            Api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokenJson["access_token"]!.GetValue<string>());
        }

        public async Task<WebProcess> StartWebAsync(int index, CancellationToken ct) =>
            await WebProcess.StartAsync(this, _ports[index], WebSettings, ct);

        /// <summary>A browser context on <paramref name="baseUrl"/>; Chromium is not told about the tests' CA, so HAProxy's certificate is accepted here.</summary>
        public async Task<IPage> NewPageAsync(Uri baseUrl)
        {
            var context = await Browser.NewContextAsync(new BrowserNewContextOptions
            {
                BaseURL = baseUrl.ToString(),
                IgnoreHTTPSErrors = true,
                ViewportSize = new ViewportSize { Width = 1440, Height = 1000 },
            });
            var page = await context.NewPageAsync();
            page.SetDefaultTimeout(60_000);
            return page;
        }

        /// <summary>Signs in as the admin from the start page; returns when the instances page is interactive.</summary>
        public async Task SignInAsync(IPage page)
        {
            await page.GotoAsync("/");
            await page.WaitForURLAsync(new System.Text.RegularExpressions.Regex("/account/login"));
            await page.FillAsync("#email", AdminEmail);
            await page.FillAsync("#password", AdminPassword);
            await page.ClickAsync("#sign-in");
            await page.WaitForURLAsync(new System.Text.RegularExpressions.Regex("/instances"));
            await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        }

        public async Task<PortalDbContext> NewContextAsync() =>
            await Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);

        private static string? DecodeIssuer(string jwt)
        {
            var payload = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
            return JsonNode.Parse(Convert.FromBase64String(payload))?["iss"]?.GetValue<string>();
        }

        public override async ValueTask DisposeAsync()
        {
            Api?.Dispose();
            if (Browser is not null)
            {
                await Browser.DisposeAsync();
            }

            _playwright?.Dispose();
            if (Proxy is not null)
            {
                await Proxy.DisposeAsync();
            }

            foreach (var web in Web.Where(w => w is not null))
            {
                await web.DisposeAsync();
            }

            await base.DisposeAsync();
        }
    }

    private const int Operations = 200;

    // Enough to measure one worker process, without doubling the test's time.
    private const int OneWorkerOperations = 60;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Operations_OnTwoWorkerProcesses_EachRunsExactlyOnce()
    {
        var one = await RunBatchAsync("cl-one-", OneWorkerOperations, workers: 1);
        var two = await RunBatchAsync("cl-two-", Operations, workers: 2);

        // Exactly once, from every record there is: the operation rows, Hangfire's job states, the audit trail, and the backend.
        var requested = one.Names.Concat(two.Names).ToList();
        await using var db = await cluster.NewContextAsync();
        var instances = await db.Instances.AsNoTracking().Where(i => i.Name.StartsWith("cl-")).Select(i => new { i.Id, i.Name, i.State }).ToListAsync(Ct);
        var ids = instances.Select(i => i.Id).ToList();
        var operations = await db.Operations.AsNoTracking().Where(o => ids.Contains(o.InstanceId))
            .Select(o => new { o.Id, o.InstanceId, o.Kind, o.State, o.Attempts }).ToListAsync(Ct);
        var idStrings = ids.Select(i => i.ToString()).ToList();
        var audited = await db.AuditEvents.AsNoTracking().Where(a => a.Action == "instance.provisioned" && idStrings.Contains(a.ObjectId!))
            .GroupBy(a => a.ObjectId!).Select(g => new { Id = g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Id, g => g.Count, Ct);
        var runs = await JobRunsAsync(operations.Select(o => o.Id).ToList());
        var operationIds = operations.Select(o => o.Id).ToList();
        var handedAgain = await db.OperationLines.AsNoTracking()
            .Where(l => operationIds.Contains(l.OperationId) && l.Message.StartsWith("Handed to a worker again"))
            .Select(l => l.OperationId).ToListAsync(Ct);
        var onBackend = await RedisInstanceUsersAsync();

        var problems = new List<string>();
        var lost = 0;
        var duplicates = 0;
        foreach (var name in requested)
        {
            var instance = instances.SingleOrDefault(i => i.Name == name);
            var provisions = instance is null ? [] : operations.Where(o => o.InstanceId == instance.Id && o.Kind == OperationKind.Provision).ToList();
            var processed = provisions.Sum(o => runs.GetValueOrDefault(o.Id)?.Count ?? 0);
            var audits = instance is null ? 0 : audited.GetValueOrDefault(instance.Id.ToString());
            var made = instance is not null && onBackend.Contains(RedisNames.InstanceUser(instance.Id));
            if (instance is null || instance.State != InstanceState.Ready || provisions.Count == 0 || processed == 0 || audits == 0 || !made)
            {
                lost++;
                problems.Add($"{name}: state {instance?.State}, {provisions.Count} provision operations, {processed} job runs, {audits} audit events, on the backend: {made}");
            }
            else if (provisions.Count > 1 || processed > 1 || audits > 1 || provisions.Any(o => o.Attempts != 1 || o.State != OperationState.Succeeded))
            {
                duplicates++;
                problems.Add($"{name}: {provisions.Count} provision operations (attempts {string.Join(",", provisions.Select(o => o.Attempts))}), " +
                             $"{processed} job runs, {audits} audit events, handed to a worker again {provisions.Sum(o => handedAgain.Count(h => h == o.Id))} times");
            }
        }

        var perWorker = two.RunsPerWorker.Values.ToList();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"figures: cluster ops {two.Names.Count} on 2 web hosts behind HAProxy and 2 worker processes: per worker {string.Join(" + ", perWorker)}, " +
            $"duplicates {duplicates}, lost {lost}, elapsed {two.Elapsed.TotalSeconds:0.0} s, {two.OpsPerSecond:0.0} ops/s with 2 workers; " +
            $"{one.Names.Count} ops with 1 worker: {one.Elapsed.TotalSeconds:0.0} s, {one.OpsPerSecond:0.0} ops/s " +
            $"(ops/s = operations / first start to last finish; default job workers per process, {Environment.ProcessorCount} cores shared by all processes; " +
            $"the {two.Names.Count} requests took {two.Submitted.TotalSeconds:0.0} s through HAProxy)");

        Assert.True(problems.Count == 0, $"{lost} lost, {duplicates} duplicated:\n{string.Join('\n', problems.Take(20))}\n{await cluster.JobsReportAsync()}");
        Assert.Equal(2, perWorker.Count);
        Assert.All(perWorker, n => Assert.True(n > 0, $"A worker process ran no job: {string.Join(", ", perWorker)}"));
        Assert.Equal(Operations, perWorker.Sum());
    }

    /// <summary>One batch: requests through HAProxy with no worker serving, then <paramref name="workers"/> worker processes work them off.</summary>
    private async Task<Batch> RunBatchAsync(string prefix, int count, int workers)
    {
        var names = Enumerable.Range(1, count).Select(i => $"{prefix}{i.ToString("000", CultureInfo.InvariantCulture)}").ToList();
        var submitting = Stopwatch.StartNew();
        var refused = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = Ct }, async (name, ct) =>
        {
            using var answer = await cluster.Api.PostAsJsonAsync("api/v1/instances",
                new { teamId = cluster.TeamId, offering = "redis", plan = "shared", name }, ct);
            if (answer.StatusCode != HttpStatusCode.Accepted)
            {
                refused.Add($"{name}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync(ct)}");
            }
        });
        var submitted = submitting.Elapsed;
        Assert.True(refused.IsEmpty, $"Requests refused:\n{string.Join('\n', refused.Take(5))}");

        var started = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => WorkerProcess.StartAsync(cluster, cluster.WorkerSettings(), Ct)));
        try
        {
            var until = DateTime.UtcNow.AddSeconds(120);
            List<(Guid Id, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt)> batch;
            while (true)
            {
                await using var db = await cluster.NewContextAsync();
                batch = (await db.Operations.AsNoTracking()
                        .Join(db.Instances.Where(i => i.Name.StartsWith(prefix)), o => o.InstanceId, i => i.Id, (o, _) => new { o.Id, o.State, o.StartedAt, o.FinishedAt })
                        .ToListAsync(Ct))
                    .Where(o => o.State is OperationState.Succeeded or OperationState.Failed)
                    .Select(o => (o.Id, o.StartedAt, o.FinishedAt)).ToList();
                if (batch.Count >= count)
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < until, $"{count - batch.Count} of {count} operations did not finish within 120 s:\n" +
                                                     $"{await cluster.JobsReportAsync()}\n{string.Join("\n--- worker\n", started.Select(w => w.RecentOutput))}");
                await Task.Delay(250, Ct);
            }

            var elapsed = batch.Max(o => o.FinishedAt!.Value) - batch.Min(o => o.StartedAt!.Value);
            var runs = await JobRunsAsync(batch.Select(o => o.Id).ToList());
            var perWorker = started.Select((w, i) => (Worker: i + 1, Runs: runs.Values.SelectMany(r => r).Count(server => server.Contains($":{w.ProcessId}:", StringComparison.Ordinal))))
                .ToDictionary(x => x.Worker, x => x.Runs);
            return new Batch(names, submitted, elapsed, perWorker);
        }
        finally
        {
            foreach (var worker in started)
            {
                await worker.DisposeAsync();
            }
        }
    }

    private sealed record Batch(List<string> Names, TimeSpan Submitted, TimeSpan Elapsed, Dictionary<int, int> RunsPerWorker)
    {
        public double OpsPerSecond => Names.Count / Math.Max(Elapsed.TotalSeconds, 0.001);
    }

    /// <summary>
    /// For each operation, the servers of every Hangfire job run (a Processing state) of a job whose arguments name it:
    /// one entry when the operation's job ran once, more when a job was picked up twice or enqueued twice.
    /// </summary>
    private async Task<Dictionary<Guid, List<string>>> JobRunsAsync(IReadOnlyCollection<Guid> operationIds)
    {
        var wanted = operationIds.ToHashSet();
        var runs = wanted.ToDictionary(id => id, _ => new List<string>());
        await using var connection = new NpgsqlConnection(cluster.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(
            "SELECT j.arguments::text, s.data::text FROM hangfire.job j JOIN hangfire.state s ON s.jobid = j.id WHERE s.name = 'Processing'", connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            var arguments = reader.GetString(0);
            var server = JsonNode.Parse(reader.GetString(1))?["ServerId"]?.GetValue<string>() ?? "(unknown server)";
            foreach (var id in wanted.Where(id => arguments.Contains(id.ToString(), StringComparison.OrdinalIgnoreCase)))
            {
                runs[id].Add(server);
            }
        }

        return runs;
    }

    /// <summary>The Redis backend's ACL users, read with its admin account: each Redis instance is one disabled user <c>pi-&lt;id&gt;</c>.</summary>
    private static async Task<HashSet<string>> RedisInstanceUsersAsync()
    {
        var endpoint = new DbConnectionStringBuilder { ConnectionString = TestEnvironment.BackendOf("redis") };
        var host = (string)endpoint["Host"];
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(TestEnvironment.CaDirectory, "ca.crt")));
        var options = new ConfigurationOptions
        {
            EndPoints = { { host, int.Parse((string)endpoint["Port"], CultureInfo.InvariantCulture) } },
            User = (string)endpoint["AdminUser"],
            Password = (string)endpoint["AdminPassword"],
            Ssl = endpoint.TryGetValue("tls", out var tls) && bool.Parse((string)tls),
            SslHost = host,
            AbortOnConnectFail = true,
        };
        options.CertificateValidation += (_, certificate, _, _) => Portal.Provisioning.Certificates.CertificateAuthority.ChainsTo(ca, certificate);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
        var users = (RedisResult[])(await redis.GetDatabase().ExecuteAsync("ACL", "USERS"))!;
        return users.Select(u => (string)u!).Where(u => u.StartsWith("pi-", StringComparison.Ordinal)).ToHashSet();
    }

    [Fact]
    public async Task PageOnWebHostA_OperationRunByWorkerProcess_ShowsLiveProgress()
    {
        // The etcd backend's operations go to a queue of their own, which no worker serves until the page is open.
        const string queue = "cluster-live";
        await using (var db = await cluster.NewContextAsync())
        {
            await db.Backends.Where(b => b.Kind == "etcd").ExecuteUpdateAsync(b => b.SetProperty(x => x.WorkerQueue, queue), Ct);
        }

        using var answer = await cluster.Api.PostAsJsonAsync("api/v1/instances",
            new { teamId = cluster.TeamId, offering = "etcd", plan = "standard", name = "cl-live-etcd" }, Ct);
        var body = await answer.Content.ReadAsStringAsync(Ct);
        Assert.True(answer.StatusCode == HttpStatusCode.Accepted, $"{(int)answer.StatusCode} {body}");
        var instanceId = JsonNode.Parse(body)!["value"]!["id"]!.GetValue<Guid>();

        // Web host A itself, not the load balancer: the page is served by A, the job runs in a worker process.
        var hostA = cluster.Web[0];
        var page = await cluster.NewPageAsync(hostA.BaseUrl);
        await cluster.SignInAsync(page);
        await page.GotoAsync($"/instances/{instanceId}");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        var state = page.Locator("[data-testid=instance-state] [data-testid=state]");
        await Assertions.Expect(state).ToHaveAttributeAsync("data-state", "Provisioning");
        // Set in the page now: still there at the end means the page was updated in place, not reloaded.
        await page.EvaluateAsync("() => window.portalTestMarker = 'before the worker'");

        await using var worker = await WorkerProcess.StartAsync(cluster, cluster.WorkerSettings(queue), Ct);
        try
        {
            await Assertions.Expect(state).ToHaveAttributeAsync("data-state", "Ready", new() { Timeout = 60_000 });
        }
        catch (PlaywrightException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{await cluster.JobsReportAsync()}\n--- worker\n{worker.RecentOutput}\n--- web A\n{hostA.RecentOutput}", e);
        }

        var lines = page.Locator("[data-testid=operation] .operation-lines");
        await Assertions.Expect(lines).ToContainTextAsync("Provision finished");
        Assert.Equal("before the worker", await page.EvaluateAsync<string>("() => window.portalTestMarker"));
        Assert.StartsWith(hostA.BaseUrl.ToString(), page.Url, StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "cluster-live-progress.png"), FullPage = true });

        // The job ran in the worker process, not in any web host.
        await using var check = await cluster.NewContextAsync();
        var operationId = await check.Operations.Where(o => o.InstanceId == instanceId).Select(o => o.Id).SingleAsync(Ct);
        var runs = (await JobRunsAsync([operationId]))[operationId];
        Assert.Equal([worker.ProcessId], runs.Select(ProcessIdOf));
    }

    private static int ProcessIdOf(string serverId) => int.Parse(serverId.Split(':')[1], CultureInfo.InvariantCulture);

    [Fact]
    public async Task WebHostKilled_LoadBalancerKeepsAnswering_BrowserReconnects()
    {
        var page = await cluster.NewPageAsync(cluster.Proxy.BaseUrl);
        await cluster.SignInAsync(page);
        var pinned = await StickyHostAsync(page);
        var victim = Array.FindIndex(cluster.Web, w => w.Port == pinned.Port);

        // Blazor's reconnect UI (a #components-reconnect-modal element it adds) reported from the page as it appears;
        // console messages outlive the reload that follows.
        var reconnectShown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        page.Console += (_, message) =>
        {
            if (message.Text == "portal-test: reconnect UI shown")
            {
                reconnectShown.TrySetResult();
            }
        };
        await page.EvaluateAsync("""
            () => new MutationObserver(() => {
                const modal = document.getElementById('components-reconnect-modal');
                if (modal && modal.style.display !== 'none' && !window.portalTestReconnectSeen) {
                    window.portalTestReconnectSeen = true;
                    console.log('portal-test: reconnect UI shown');
                }
            }).observe(document.body, { childList: true, subtree: true, attributes: true })
            """);

        cluster.Web[victim].Kill();

        // The load balancer keeps answering, even for a client whose cookie names the dead host.
        using (var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/teams"))
        {
            request.Headers.Add("Cookie", $"PORTAL_HOST={pinned.Cookie}");
            using var answer = await cluster.Api.SendAsync(request, Ct);
            Assert.True(answer.StatusCode == HttpStatusCode.OK, $"{(int)answer.StatusCode} after web host {victim + 1} died\n{cluster.Proxy.RecentOutput}");
        }

        await reconnectShown.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        // Then a working page: the circuit lived on the dead host, so the other host refuses to resume it and Blazor
        // reloads the page there; it must be interactive again and navigate.
        await Assertions.Expect(page.Locator("#components-reconnect-modal")).Not.ToBeVisibleAsync(new() { Timeout = 60_000 });
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.ClickAsync("text=Catalog");
        await page.Locator("[data-testid=offering-redis]").WaitForAsync();
        var now = await StickyHostAsync(page);
        Assert.NotEqual(pinned.Port, now.Port);
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "cluster-after-failover.png"), FullPage = true });

        // Put the cluster back for the other tests.
        await cluster.Web[victim].DisposeAsync();
        cluster.Web[victim] = await cluster.StartWebAsync(victim, Ct);
    }

    /// <summary>The web host HAProxy's sticky cookie names (<c>web1</c>, <c>web2</c>, as ops/lib/haproxy.sh numbers them).</summary>
    private async Task<(string Cookie, int Port)> StickyHostAsync(IPage page)
    {
        var cookie = (await page.Context.CookiesAsync()).SingleOrDefault(c => c.Name == "PORTAL_HOST");
        Assert.True(cookie is not null, "HAProxy set no PORTAL_HOST cookie:\n" + cluster.Proxy.Configuration);
        Assert.True(cookie.Secure && cookie.HttpOnly, "The sticky cookie must be Secure and HttpOnly.");
        var index = int.Parse(cookie.Value.AsSpan("web".Length), CultureInfo.InvariantCulture) - 1;
        return (cookie.Value, cluster.Web[index].Port);
    }
}
