using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry.Trace;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// No secret in plaintext at rest, in the logs or in the telemetry: after bindings of every kind (with a client
/// certificate where the kind takes one), a real <c>pg_dump</c> of the portal's database, everything the portal logged
/// (as plain lines and as the JSON console writes them, with scopes and the database commands), every span it made and
/// its Prometheus scrape hold none of the binding secrets, backend admin passwords or the platform CA's key.
/// </summary>
public sealed class SecretsAtRestTests(SecretsAtRestTests.Fixture fixture) : IClassFixture<SecretsAtRestTests.Fixture>
{
    /// <summary>The portal with every log line (message and exception, and as JSON with scopes) and every span kept for inspection.</summary>
    public sealed class Fixture : PortalAppFactory
    {
        public const string ScrapeToken = "secrets-test-scrape-token";

        private readonly LogCapture _everything = new();

        public ConcurrentQueue<string> Logged => _everything.Lines;

        public JsonLogCapture Json { get; } = new();

        public SpanCollection Spans { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // The SQL of every database command too (EF Core masks parameter values unless sensitive data logging is on).
            builder.UseSetting("Logging:LogLevel:Microsoft.EntityFrameworkCore.Database.Command", "Information");
            builder.UseSetting("Metrics:ScrapeToken", ScrapeToken);
            builder.ConfigureLogging(logging => logging.AddProvider(_everything).AddProvider(Json));
            builder.ConfigureTestServices(services => services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(Spans)));
        }
    }

    private static readonly string[] SecretKeys = ["password", "secretAccessKey", "clientSecret", "token", "readToken", "tls.key"];

    [Fact]
    public async Task NeitherTheDatabaseDumpNorTheLogsHoldAnySecret()
    {
        await fixture.AllowEgressAsync("127.0.0.1"); // the monitoring instance's target
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var secrets = new List<(string What, string Value)>();
        var kinds = new (string Kind, string Plan, object? Parameters, bool Certificate)[]
        {
            ("postgresql", "small", null, true),
            ("postgresql", "small", null, false),
            ("rabbitmq", "small", null, true),
            ("redis", "shared", null, false),
            ("etcd", "standard", null, false),
            ("s3", "small", null, false),
            ("logging", "week", null, false),
            ("monitoring", "plus", new Dictionary<string, string> { ["targets"] = "127.0.0.1:9" }, false),
            ("oidc", "standard", null, false),
        };
        var instances = new List<Guid>();
        foreach (var (kind, plan, parameters, certificate) in kinds)
        {
            if (kind != "postgresql" && kind != "oidc")
            {
                TestEnvironment.BackendOf(kind);
            }

            var (id, _) = await api.RequestReadyAsync(teamId, kind, plan, $"vault-{kind[..Math.Min(kind.Length, 8)]}-{instances.Count}", parameters);
            instances.Add(id);
            var (bindingId, credentials) = await api.BindReadyAsync(id, "secret-app", certificate);
            // Rotate once too: the retiring generation's secrets stay on record as long as it works.
            var (status, body, response) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/bindings/{bindingId}/rotate", new { overlapMinutes = 60 });
            Assert.True(status == System.Net.HttpStatusCode.Accepted, body?.ToJsonString());
            await api.WaitForAsync(response.Headers.Location!.OriginalString, o => o["state"]!.GetValue<string>() == "Succeeded", $"the rotation of {kind}");
            var rotated = (await api.GetOkAsync($"/api/v1/instances/{id}/bindings/{bindingId}/credentials"))["credentials"]!;
            foreach (var generation in new[] { credentials, rotated })
            {
                foreach (var key in SecretKeys)
                {
                    if (generation[key]?.GetValue<string>() is { Length: > 0 } value)
                    {
                        secrets.Add(($"{kind} {key}", Body(value)));
                    }
                }
            }

            Assert.Contains(secrets, s => s.What.StartsWith(kind, StringComparison.Ordinal));
        }

        Assert.Contains(secrets, s => s.What == "postgresql tls.key");
        foreach (var (kind, _) in TestEnvironment.OptionalBackends)
        {
            var endpoint = Portal.Provisioning.BackendEndpoint.Parse(TestEnvironment.BackendOf(kind));
            secrets.Add(($"{kind} backend admin password", endpoint.AdminPassword));
        }

        secrets.Add(("postgresql backend admin password", TestEnvironment.Backend.Password!));
        secrets.Add(("platform CA key", Body(await File.ReadAllTextAsync(Path.Combine(TestEnvironment.CaDirectory, "ca.key"), TestContext.Current.CancellationToken))));

        var dump = await DumpAsync();
        Assert.Contains("PlatformCa", dump); // the dump is real and whole
        Assert.Contains("secret-app", dump);
        foreach (var (what, value) in secrets)
        {
            Assert.False(dump.Contains(value, StringComparison.Ordinal), $"The database dump holds the {what} in plaintext.");
        }

        var logged = string.Join('\n', fixture.Logged);
        Assert.Contains("Platform CA", logged); // the capture works
        foreach (var (what, value) in secrets)
        {
            Assert.False(logged.Contains(value, StringComparison.Ordinal), $"The portal logged the {what}.");
        }

        var json = fixture.Json.DecodedText();
        Assert.Contains("Platform CA", json);
        Assert.Contains("TraceId", json); // scopes are written, with the trace id
        Assert.Contains("Executed DbCommand", json); // and the SQL of the database commands
        foreach (var (what, value) in secrets)
        {
            Assert.False(json.Contains(value, StringComparison.Ordinal), $"The portal's JSON log holds the {what}.");
        }

        var spans = SpansText();
        Assert.Matches("db.statement|db.query.text", spans); // the spans are real, with their SQL
        Assert.Contains("http.request.method", spans);
        foreach (var (what, value) in secrets)
        {
            Assert.False(spans.Contains(value, StringComparison.Ordinal), $"A span holds the {what}.");
        }

        using var scrape = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        scrape.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Fixture.ScrapeToken);
        using var metricsResponse = await fixture.CreateClient().SendAsync(scrape, TestContext.Current.CancellationToken);
        var metrics = await metricsResponse.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains("portal_operations_finished_total", metrics);
        foreach (var (what, value) in secrets)
        {
            Assert.False(metrics.Contains(value, StringComparison.Ordinal), $"The metrics hold the {what}.");
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"figures: searched {fixture.Logged.Count} log lines, {fixture.Json.Lines.Count} JSON lines, {fixture.Spans.Count} spans and a {metrics.Length}-byte scrape for {secrets.Count} secrets");

        foreach (var id in instances)
        {
            await api.DeleteReadyAsync(id);
        }
    }

    /// <summary>Every span's name, status, tags and events, as text.</summary>
    private string SpansText()
    {
        var text = new System.Text.StringBuilder();
        {
            foreach (var span in fixture.Spans.Snapshot())
            {
                text.AppendLine(span.DisplayName).AppendLine(span.StatusDescription);
                foreach (var (key, value) in span.TagObjects)
                {
                    text.Append(key).Append('=').AppendLine(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                }

                foreach (var e in span.Events)
                {
                    text.AppendLine(e.Name);
                    foreach (var (key, value) in e.Tags)
                    {
                        text.Append(key).Append('=').AppendLine(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                    }
                }
            }
        }

        return text.ToString();
    }

    /// <summary>A PEM's base64 body on one line (a dump or log could wrap or escape the line breaks), else the value.</summary>
    private static string Body(string value) =>
        value.Contains("-----BEGIN", StringComparison.Ordinal)
            ? string.Concat(value.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal)).Select(l => l.Trim()))[..40]
            : value;

    private async Task<string> DumpAsync()
    {
        var server = new NpgsqlConnectionStringBuilder(fixture.ConnectionString);
        var start = new ProcessStartInfo("/usr/lib/postgresql/15/bin/pg_dump",
            ["--no-owner", "-h", server.Host!, "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", server.Username!, server.Database!])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PGPASSWORD"] = server.Password;
        using var process = Process.Start(start)
            ?? throw new InvalidOperationException("pg_dump did not start: apt-get install postgresql-client-15 (ops/portal test installs it).");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"pg_dump failed: {errors}");
        return await output;
    }
}
