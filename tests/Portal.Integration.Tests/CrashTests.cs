using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Portal.Application.Operations;
using Portal.Application.Reconcile;
using Portal.Data;
using Portal.Domain.Bindings;
using Portal.Domain.Instances;
using Portal.Domain.Operations;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// Every accepted request converges when the host running the jobs dies: a separate worker process is killed with SIGKILL
/// at random moments over several rounds while requests of four kinds arrive, and some requests die between their commit
/// and their enqueue; then a worker starts again, and within 60 s every operation has finished, every Ready instance
/// works with its binding, and the backends hold nothing of an instance that is not Ready and nothing twice.
/// </summary>
public sealed class CrashTests(CrashTests.Fixture fixture) : IClassFixture<CrashTests.Fixture>
{
    /// <summary>The web host runs no jobs (the worker process does), and every fourth enqueue of an operation dies after the commit.</summary>
    public sealed class Fixture : PortalAppFactory
    {
        public DyingJobClient Jobs { get; private set; } = null!;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Jobs:RunServer", "false");
            builder.UseSetting("Quotas:Defaults:MaxInstances", "200");
            builder.UseSetting("Quotas:Defaults:MaxMonthlyCost", "1000000");
            builder.ConfigureTestServices(services => services.AddSingleton<IBackgroundJobClient>(sp =>
                Jobs = new DyingJobClient(new BackgroundJobClient(sp.GetRequiredService<JobStorage>()))));
        }
    }

    /// <summary>
    /// The job client of a request that dies right after its transaction committed: every <see cref="DieEvery"/>-th
    /// operation job is not enqueued, and the request ends with an error, as if the process had died then.
    /// </summary>
    public sealed class DyingJobClient(IBackgroundJobClient inner) : IBackgroundJobClient
    {
        private int _operations;

        public int DieEvery { get; set; } = 4;

        public int Died { get; private set; }

        public string Create(Job job, IState state)
        {
            if (job.Type == typeof(OperationJob) && state is EnqueuedState && DieEvery > 0 && Interlocked.Increment(ref _operations) % DieEvery == 0)
            {
                Died++;
                throw new InvalidOperationException("Simulated crash between the commit and the enqueue.");
            }

            return inner.Create(job, state);
        }

        public bool ChangeState(string jobId, IState state, string expectedState) => inner.ChangeState(jobId, state, expectedState);
    }

    private static readonly (string Kind, string Plan)[] Kinds = [("postgresql", "small"), ("rabbitmq", "small"), ("redis", "shared"), ("etcd", "standard")];

    private static readonly Dictionary<string, string> WorkerSettings = new()
    {
        ["Jobs:RetryBaseDelay"] = "00:00:00.5",
        ["Jobs:WorkerCount"] = "8",
        ["Backends:HealthSchedule"] = Cron.Never(),
        ["Bindings:RenewalSchedule"] = Cron.Never(),
        ["Reconcile:Schedule"] = Cron.Never(),
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Worker_KilledAtRandomMomentsOverSeveralRounds_EveryAcceptedOperationConverges()
    {
        foreach (var (kind, _) in Kinds.Where(k => k.Kind != "postgresql"))
        {
            TestEnvironment.BackendOf(kind);
        }

        const int rounds = 4;
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var names = new List<string>();
        var accepted = 0;
        var diedAfterCommit = 0;
        for (var round = 1; round <= rounds; round++)
        {
            await using var worker = await WorkerProcess.StartAsync(fixture, WorkerSettings, Ct);
            var requests = new List<Task<HttpStatusCode>>();
            foreach (var (kind, plan) in Kinds)
            {
                for (var i = 0; i < 2; i++)
                {
                    var name = $"crash-{round}-{kind}-{i}";
                    names.Add(name);
                    requests.Add(SendAsync(api, HttpMethod.Post, "/api/v1/instances", new { teamId, offering = kind, plan, name }));
                }
            }

            // Bindings for what became Ready, and one deletion, while the worker may be dying.
            var ready = await InstancesAsync(i => i.State == InstanceState.Ready);
            foreach (var instance in ready.Where(i => !i.HasBinding).Take(6))
            {
                requests.Add(SendAsync(api, HttpMethod.Post, $"/api/v1/instances/{instance.Id}/bindings", new { appName = "app" }));
            }

            if (ready.Count > 2)
            {
                requests.Add(SendAsync(api, HttpMethod.Delete, $"/api/v1/instances/{ready[random.Next(ready.Count)].Id}"));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(300, 3000)), Ct);
            worker.Kill();
            var statuses = await Task.WhenAll(requests);
            accepted += statuses.Count(s => s == HttpStatusCode.Accepted);
            diedAfterCommit += statuses.Count(s => s == HttpStatusCode.InternalServerError);
            Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Accepted or HttpStatusCode.InternalServerError or HttpStatusCode.Conflict,
                $"a request answered {(int)s}"));
        }

        // A worker comes back; everything accepted must finish within 60 s.
        fixture.Jobs.DieEvery = 0;
        await using var last = await WorkerProcess.StartAsync(fixture, WorkerSettings, Ct);
        var clock = Stopwatch.StartNew();
        List<OperationRow> unfinished;
        do
        {
            await Task.Delay(500, Ct);
            unfinished = (await OperationsAsync()).Where(o => o.State is OperationState.Queued or OperationState.Running).ToList();
        }
        while (unfinished.Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(60));

        var convergedIn = clock.Elapsed;
        var operations = await OperationsAsync();
        Assert.True(unfinished.Count == 0,
            $"{unfinished.Count} operations did not finish within 60 s of the worker's return (seed {seed}):\n" +
            string.Join('\n', unfinished.Select(o => $"{o.Kind} {o.State} attempts {o.Attempts} job {o.JobId}")) +
            $"\n{await fixture.JobsReportAsync()}\n--- worker\n{last.RecentOutput}");

        // Every Ready instance gets a binding (made now for those that had none) and works with it.
        foreach (var instance in (await InstancesAsync(i => i.State == InstanceState.Ready)).Where(i => !i.HasBinding))
        {
            var (status, body, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{instance.Id}/bindings", new { appName = "app" });
            Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body?.ToJsonString()}");
        }

        var bindingsBy = DateTime.UtcNow.AddSeconds(60);
        List<InstanceRow> unbound;
        do
        {
            await Task.Delay(500, Ct);
            unbound = await InstancesAsync(i => i.State == InstanceState.Ready && i.ReadyBindings.Count == 0);
        }
        while (unbound.Count > 0 && DateTime.UtcNow < bindingsBy);

        Assert.True(unbound.Count == 0, $"No Ready binding within 60 s on {string.Join(", ", unbound.Select(i => i.Name))}:\n{await fixture.JobsReportAsync()}");
        var readyInstances = await InstancesAsync(i => i.State == InstanceState.Ready);
        var working = 0;
        foreach (var instance in readyInstances)
        {
            foreach (var bindingId in instance.ReadyBindings)
            {
                var credentials = (await api.GetOkAsync($"/api/v1/instances/{instance.Id}/bindings/{bindingId}/credentials"))["credentials"]!;
                await AppConnections.RoundTripAsync(instance.Kind, credentials, Ct);
                working++;
            }
        }

        // Nothing of an instance that is not Ready on its backend, nothing twice: the drivers' observations against the record.
        var orphans = new List<string>();
        var duplicates = new List<string>();
        var everything = await InstancesAsync(_ => true);
        await using (var scope = fixture.Services.CreateAsyncScope())
        {
            var check = scope.ServiceProvider.GetRequiredService<DriftCheck>();
            foreach (var instance in everything)
            {
                var findings = await check.CheckAsync(instance.Id, Ct);
                (instance.State == InstanceState.Ready ? duplicates : orphans)
                    .AddRange(findings.Leftovers.Select(l => $"{instance.Name} ({instance.State}): {l}"));
                Assert.True(instance.State != InstanceState.Ready || findings.Differences.Count == 0,
                    $"{instance.Name} is Ready but differs from its backend: {string.Join("; ", findings.Differences)}");
            }
        }

        duplicates.AddRange(operations.Where(o => o.Kind == OperationKind.Provision).GroupBy(o => o.InstanceId).Where(g => g.Count() > 1)
            .Select(g => $"instance {g.Key} has {g.Count()} provision operations"));
        duplicates.AddRange(everything.GroupBy(i => i.Name).Where(g => g.Count(i => i.State != InstanceState.Deleted) > 1)
            .Select(g => $"{g.Key} exists {g.Count()} times"));
        var requested = names.Count;
        var failed = everything.Count(i => i.State == InstanceState.Failed);
        // "figures:" lines land in the test results, and ops/portal test prints them after its summary.
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"figures: crash rounds {rounds}, operations {operations.Count}, converged {operations.Count(o => o.IsFinished)}, stuck {unfinished.Count}, " +
            $"orphans {orphans.Count}, duplicates {duplicates.Count} (seed {seed}; {requested} instances requested, {accepted} requests answered 202, " +
            $"{diedAfterCommit} died after the commit; converged {convergedIn.TotalSeconds:0.0} s after the worker returned; " +
            $"{readyInstances.Count} Ready, {failed} Failed, {working} bindings work)");

        Assert.True(orphans.Count == 0, $"Orphans on the backends:\n{string.Join('\n', orphans)}");
        Assert.True(duplicates.Count == 0, $"Duplicates:\n{string.Join('\n', duplicates)}");
        Assert.True(diedAfterCommit > 0, "No request died between its commit and its enqueue: the test did not exercise the lost-enqueue path.");
        Assert.Equal(0, failed);
        Assert.All(names, name => Assert.Contains(everything, i => i.Name == name));
    }

    private static async Task<HttpStatusCode> SendAsync(ApiClient api, HttpMethod method, string url, object? body = null) =>
        (await api.SendAsync(method, url, body)).Status;

    private sealed record InstanceRow(Guid Id, string Name, string Kind, InstanceState State, IReadOnlyList<Guid> ReadyBindings, bool HasBinding);

    private sealed record OperationRow(Guid InstanceId, OperationKind Kind, OperationState State, int Attempts, string? JobId)
    {
        public bool IsFinished => State is OperationState.Succeeded or OperationState.Failed;
    }

    private async Task<List<InstanceRow>> InstancesAsync(Func<InstanceRow, bool> where)
    {
        await using var db = await NewContextAsync();
        var rows = await (from i in db.Instances.AsNoTracking()
                          where i.Name.StartsWith("crash-")
                          join b in db.Backends on i.BackendId equals b.Id
                          select new
                          {
                              i.Id, i.Name, b.Kind, i.State,
                              Ready = db.Bindings.Where(x => x.InstanceId == i.Id && x.State == BindingState.Ready).Select(x => x.Id).ToList(),
                              Any = db.Bindings.Any(x => x.InstanceId == i.Id && x.State != BindingState.Deleted),
                          }).ToListAsync(Ct);
        return rows.Select(r => new InstanceRow(r.Id, r.Name, r.Kind, r.State, r.Ready, r.Any)).Where(where).ToList();
    }

    private async Task<List<OperationRow>> OperationsAsync()
    {
        await using var db = await NewContextAsync();
        return await (from o in db.Operations.AsNoTracking()
                      join i in db.Instances on o.InstanceId equals i.Id
                      where i.Name.StartsWith("crash-")
                      select new OperationRow(o.InstanceId, o.Kind, o.State, o.Attempts, o.JobId)).ToListAsync(Ct);
    }

    private async Task<PortalDbContext> NewContextAsync() =>
        await fixture.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync(Ct);
}
