using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenTelemetry.Trace;
using Portal.Data;
using Portal.Hosting.Health;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// The operator's view of a running portal, on the in-memory web host and a real worker process over one database: the
/// health endpoints (ready, and 503 naming the failing check when the database is away or the schema is behind), the
/// Prometheus scrape endpoint behind its token with the portal's own series after a real operation, traces, and the
/// worker's JSON logs with trace ids.
/// </summary>
public sealed class HealthAndTelemetryTests(HealthAndTelemetryTests.Fixture fixture) : IClassFixture<HealthAndTelemetryTests.Fixture>
{
    public const string ScrapeToken = "scrape-token-for-tests-7f3a";

    /// <summary>The web host runs no jobs: the worker process runs them, with JSON console logs.</summary>
    public sealed class Fixture : PortalAppFactory
    {
        public SpanCollection Spans { get; } = new();

        private WorkerProcess? _worker;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Jobs:RunServer", "false");
            builder.UseSetting("Metrics:ScrapeToken", ScrapeToken);
            builder.UseSetting("Metrics:GaugeMaxAge", "00:00:01");
            builder.ConfigureTestServices(services => services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(Spans)));
        }

        public async Task<WorkerProcess> WorkerAsync()
        {
            return _worker ??= await WorkerProcess.StartAsync(this, new Dictionary<string, string>
            {
                ["Metrics:ScrapeToken"] = ScrapeToken,
                ["Metrics:GaugeMaxAge"] = "00:00:01",
                ["Logging:Console:FormatterName"] = "json",
                ["Logging:Console:FormatterOptions:IncludeScopes"] = "true",
                ["Logging:LogLevel:Default"] = "Information",
                // The job's database commands, logged inside its span: the lines that must carry its trace id.
                ["Logging:LogLevel:Microsoft.EntityFrameworkCore.Database.Command"] = "Information",
                ["Backends:HealthSchedule"] = Hangfire.Cron.Never(),
                ["Bindings:RenewalSchedule"] = Hangfire.Cron.Never(),
            }, TestContext.Current.CancellationToken);
        }

        public override async ValueTask DisposeAsync()
        {
            if (_worker is not null)
            {
                await _worker.DisposeAsync();
            }

            await base.DisposeAsync();
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void ExpectedSchema_IsTheMigrationsAssemblysList()
    {
        using var scope = fixture.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
        Assert.Equal(db.Database.GetMigrations().ToList(), ExpectedSchema.Migrations);
    }

    [Fact]
    public async Task Ready_HealthyPortal_Is200WithEveryCheckOnWebAndWorker()
    {
        var worker = await fixture.WorkerAsync();
        using var web = fixture.CreateClient();
        foreach (var path in new[] { HealthExtensions.ReadyPath, "/healthz" })
        {
            var (status, body) = await GetJsonAsync(web, path);
            Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
            Assert.Equal("Healthy", body["status"]!.GetValue<string>());
            Assert.Equal(["database", "job-storage", "key-ring", "schema"], Checks(body).Keys.Order());
        }

        var (workerStatus, workerBody) = await GetJsonAsync(worker, HealthExtensions.ReadyPath);
        Assert.True(workerStatus == HttpStatusCode.OK, workerBody.ToJsonString());
        Assert.All(Checks(workerBody).Values, s => Assert.Equal("Healthy", s));
        Assert.Equal(HttpStatusCode.OK, (await GetJsonAsync(web, HealthExtensions.LivePath)).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetJsonAsync(worker, HealthExtensions.LivePath)).Status);
    }

    [Fact]
    public async Task Ready_SchemaBehind_Is503NamingTheSchemaOnWebAndWorker()
    {
        var worker = await fixture.WorkerAsync();
        using var web = fixture.CreateClient();
        var latest = ExpectedSchema.LatestMigration;
        await using var connection = new NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync(Ct);
        string productVersion;
        await using (var read = new NpgsqlCommand("""SELECT "ProductVersion" FROM "__EFMigrationsHistory" WHERE "MigrationId" = $1""", connection))
        {
            read.Parameters.AddWithValue(latest);
            productVersion = (string)(await read.ExecuteScalarAsync(Ct))!;
        }

        await ExecuteAsync(connection, """DELETE FROM "__EFMigrationsHistory" WHERE "MigrationId" = $1""", latest);
        try
        {
            foreach (var host in new Func<string, Task<(HttpStatusCode, JsonNode)>>[] { p => GetJsonAsync(web, p), p => GetJsonAsync(worker, p) })
            {
                var (status, body) = await host(HealthExtensions.ReadyPath);
                Assert.True(status == HttpStatusCode.ServiceUnavailable, body.ToJsonString());
                Assert.Equal("Unhealthy", Checks(body)["schema"]);
                Assert.Equal("Healthy", Checks(body)["database"]);
                Assert.Contains(latest, Description(body, "schema"));
                Assert.Equal(HttpStatusCode.OK, (await host(HealthExtensions.LivePath)).Item1);
            }
        }
        finally
        {
            await ExecuteAsync(connection, """INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion") VALUES ($1, $2)""", latest, productVersion);
        }

        Assert.Equal(HttpStatusCode.OK, (await GetJsonAsync(web, HealthExtensions.ReadyPath)).Status);
    }

    [Fact]
    public async Task Ready_DatabaseUnreachable_Is503NamingTheDatabaseOnWebAndWorker_LiveStays200()
    {
        var worker = await fixture.WorkerAsync();
        using var web = fixture.CreateClient();
        var password = new NpgsqlConnectionStringBuilder(fixture.ConnectionString).Password!;
        await using var admin = new NpgsqlConnection(TestEnvironment.PortalServer);
        await admin.OpenAsync(Ct);
        // The server stays up for the other test classes: this database alone refuses connections, and those open end.
        await ExecuteAsync(admin, $"""ALTER DATABASE "{fixture.DatabaseName}" WITH ALLOW_CONNECTIONS false""");
        try
        {
            await ExecuteAsync(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", fixture.DatabaseName);
            foreach (var (name, host) in new (string, Func<string, Task<(HttpStatusCode, JsonNode)>>)[]
                     { ("web", p => GetJsonAsync(web, p)), ("worker", p => GetJsonAsync(worker, p)) })
            {
                var (status, body) = (HttpStatusCode.OK, (JsonNode)new JsonObject());
                await ApiClient.WaitUntilAsync(async () =>
                {
                    (status, body) = await host(HealthExtensions.ReadyPath);
                    return status == HttpStatusCode.ServiceUnavailable && Checks(body)["database"] == "Unhealthy";
                }, $"the {name} host to answer 503 naming the database", 30);
                Assert.Equal("Unhealthy", body["status"]!.GetValue<string>());
                Assert.Equal("Unhealthy", Checks(body)["job-storage"]);
                // Anonymous: no server address, user or password, no exception text.
                var text = body.ToJsonString();
                Assert.DoesNotContain(password, text);
                Assert.DoesNotContain("127.0.0.1", text);
                Assert.DoesNotContain("Exception", text);
                Assert.Equal(HttpStatusCode.OK, (await host(HealthExtensions.LivePath)).Item1);
            }

            Assert.False(worker.HasExited, worker.RecentOutput);
        }
        finally
        {
            await ExecuteAsync(admin, $"""ALTER DATABASE "{fixture.DatabaseName}" WITH ALLOW_CONNECTIONS true""");
        }

        await ApiClient.WaitUntilAsync(async () => (await GetJsonAsync(worker, HealthExtensions.ReadyPath)).Status == HttpStatusCode.OK,
            "the worker to be ready again", 30);
        await ApiClient.WaitUntilAsync(async () => (await GetJsonAsync(web, HealthExtensions.ReadyPath)).Status == HttpStatusCode.OK,
            "the web host to be ready again", 30);
    }

    [Fact]
    public async Task Metrics_AfterARealOperation_ShowThePortalsSeriesToTheTokenOnly()
    {
        var worker = await fixture.WorkerAsync();
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", "metrics-probe");
        using var web = fixture.CreateClient();

        // The web host counts what its handlers did; the worker counts the operation it ran.
        var scraped = await ScrapeAsync(web);
        Assert.Matches(Series("portal_approvals_pending"), scraped);
        Assert.Matches(Series("http_server_request_duration_seconds_count", ("http_request_method", "POST")), scraped);

        var fromWorker = "";
        await ApiClient.WaitUntilAsync(async () =>
        {
            fromWorker = await ScrapeAsync(worker);
            return Series("portal_operations_finished_total", ("kind", "provision"), ("offering", "postgresql"), ("outcome", "succeeded")).IsMatch(fromWorker);
        }, "the worker's scrape to count the provision", 15);
        Assert.DoesNotMatch(Series("portal_operations_finished_total", ("kind", "provision"), ("outcome", "no-such-outcome")), fromWorker);
        Assert.Matches(Series("portal_operations_started_total", ("kind", "provision"), ("offering", "postgresql")), fromWorker);
        Assert.Matches(Series("portal_operation_duration_seconds_bucket", ("kind", "provision"), ("outcome", "succeeded")), fromWorker);
        Assert.Matches(Series("portal_job_duration_seconds_count", ("job", "OperationJob"), ("outcome", "succeeded")), fromWorker);
        Assert.Matches(Series("portal_operations_unfinished", ("state", "queued")), fromWorker);
        Assert.Matches(Series("portal_jobs_failed"), fromWorker);
        Assert.Matches(Series("dotnet_gc_collections_total"), fromWorker);
        TestContext.Current.TestOutputHelper?.WriteLine($"figures: web scrape {scraped.Length} bytes, worker scrape {fromWorker.Length} bytes");

        // A refused token request counts as a sign-in failure.
        using (var refusedToken = await web.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
               {
                   ["grant_type"] = "client_credentials", ["client_id"] = "no-such-client", ["client_secret"] = "wrong",
               }), Ct))
        {
            Assert.True(refusedToken.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, refusedToken.StatusCode.ToString());
        }

        // The exporter serves a scrape again for a moment (its response cache), so wait for the next one.
        await ApiClient.WaitUntilAsync(async () => Series("portal_sign_in_failures_total", ("kind", "service-account")).IsMatch(await ScrapeAsync(web)),
            "the web host's scrape to count the refused sign-in", 10);

        // Without the token, or with another: 401, and not a line of the metrics.
        foreach (var bearer in new string?[] { null, "wrong-token" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            if (bearer is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            }

            using var refused = await web.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.DoesNotContain("portal_", await refused.Content.ReadAsStringAsync(Ct));
            using var refusedByWorker = await worker.GetAsync("/metrics", bearer, Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, refusedByWorker.StatusCode);
        }

        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task Metrics_WithoutAScrapeToken_Is404()
    {
        await using var plain = new PortalAppFactory();
        await plain.InitializeAsync();
        using var client = plain.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ScrapeToken);
        using var response = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Traces_ARequestContinuesTheCallersTraceDownToItsDatabaseQueries()
    {
        var (api, _) = await fixture.DemoDeveloperAsync();
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/offerings");
        request.Headers.Authorization = api.Http.DefaultRequestHeaders.Authorization;
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using var response = await api.Http.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        List<Activity> spans = [];
        await ApiClient.WaitUntilAsync(() =>
        {
            spans = fixture.Spans.Snapshot().Where(s => s.TraceId == traceId).ToList();

            return Task.FromResult(spans.Any(s => s.Kind == ActivityKind.Server) && spans.Any(s => s.GetTagItem("db.system") is not null || s.GetTagItem("db.system.name") is not null));
        }, "the request's server span and its database spans", 15);
        var server = spans.Single(s => s.Kind == ActivityKind.Server);
        Assert.StartsWith("/api/v1/offerings", server.GetTagItem("http.route") as string);
    }

    [Fact]
    public async Task Logs_TheWorkersJsonLinesCarryTheJobsTraceId()
    {
        var worker = await fixture.WorkerAsync();
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", "json-logs");
        var lines = worker.RecentOutput.Split('\n').Where(l => l.StartsWith('{')).ToList();
        Assert.NotEmpty(lines);
        var withTrace = lines.Select(l => JsonNode.Parse(l)!)
            .Where(j => j["Scopes"]?.AsArray().Any(s => s?["TraceId"] is not null) == true)
            .ToList();
        Assert.True(withTrace.Count > 0, $"No JSON line with a TraceId scope among:\n{string.Join('\n', lines.TakeLast(20))}");
        Assert.All(withTrace, j => Assert.Matches("^[0-9a-f]{32}$", j["Scopes"]!.AsArray().First(s => s?["TraceId"] is not null)!["TraceId"]!.GetValue<string>()));
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task DemoPrometheus_ScrapesThePortalWithItsToken_BesideTheDriversJob()
    {
        var worker = await fixture.WorkerAsync();
        var dir = Directory.CreateTempSubdirectory("portal-scrape-").FullName;
        try
        {
            // As ops/portal up does (configure_portal_scrape), with the worker's token and a short interval.
            await File.WriteAllTextAsync(Path.Combine(dir, "metrics.token"), ScrapeToken, Ct);
            var run = await OpsScripts.BashAsync(
                $"source ops/lib/portal-scrape.sh && PORTAL_SCRAPE_INTERVAL=1s portal_scrape_configure '{dir}/monitoring' '{dir}/metrics.token' " +
                $"'{worker.Address.GetLeftPart(UriPartial.Authority)}' && ops/backends/monitoring start '{dir}/monitoring'",
                TimeSpan.FromMinutes(3));
            Assert.True(run.ExitCode == 0, run.ToString());
            var config = await File.ReadAllTextAsync(Path.Combine(dir, "monitoring", "prometheus.yml"), Ct);
            Assert.Contains("job_name: portal-apps", config); // the driver's job is still there
            Assert.Contains("job_name: portal\n", config);

            var port = int.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "monitoring", "ports"), Ct), System.Globalization.CultureInfo.InvariantCulture);
            using var prometheus = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var password = await File.ReadAllTextAsync(Path.Combine(dir, "monitoring", "admin.password"), Ct);
            prometheus.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"portal:{password}")));
            await ApiClient.WaitUntilAsync(
                async () => (await QueryAsync(prometheus, "portal_approvals_pending{job=\"portal\"}")).Count == 1,
                "Prometheus to hold the portal's series", 30);
            var up = await QueryAsync(prometheus, "up{job=\"portal\"}");
            Assert.Equal("1", up[0]!["value"]![1]!.GetValue<string>());
        }
        finally
        {
            await OpsScripts.BashAsync($"ops/backends/monitoring stop '{dir}/monitoring'", TimeSpan.FromMinutes(1));
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<JsonArray> QueryAsync(HttpClient prometheus, string query) =>
        JsonNode.Parse(await prometheus.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query), Ct))!["data"]!["result"]!.AsArray();

    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ScrapeToken);
        using var response = await client.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return text;
    }

    private static async Task<string> ScrapeAsync(WorkerProcess worker)
    {
        using var response = await worker.GetAsync("/metrics", ScrapeToken, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return text;
    }

    /// <summary>A sample line of <paramref name="metric"/> with these labels among its labels (in any order).</summary>
    private static Regex Series(string metric, params (string Name, string Value)[] labels) =>
        new(labels.Length == 0
            ? $"(?m)^{Regex.Escape(metric)}(\\{{[^}}\\n]*\\}})? "
            : $"(?m)^{Regex.Escape(metric)}\\{{{string.Concat(labels.Select(l => $"(?=[^}}\\n]*\\b{l.Name}=\"{Regex.Escape(l.Value)}\")"))}[^}}\\n]*\\}} ");

    private static async Task<(HttpStatusCode Status, JsonNode Body)> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path, Ct);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!);
    }

    private static async Task<(HttpStatusCode Status, JsonNode Body)> GetJsonAsync(WorkerProcess worker, string path)
    {
        using var response = await worker.GetAsync(path, ct: Ct);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!);
    }

    private static Dictionary<string, string> Checks(JsonNode body) =>
        body["checks"]!.AsArray().ToDictionary(c => c!["name"]!.GetValue<string>(), c => c!["status"]!.GetValue<string>());

    private static string Description(JsonNode body, string check) =>
        body["checks"]!.AsArray().First(c => c!["name"]!.GetValue<string>() == check)!["description"]!.GetValue<string>();

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
        {
            command.Parameters.AddWithValue(p);
        }

        await command.ExecuteNonQueryAsync(Ct);
    }
}
