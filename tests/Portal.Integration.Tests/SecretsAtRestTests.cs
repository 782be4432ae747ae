using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// No secret in plaintext at rest or in the logs: after bindings of every kind (with a client certificate where the
/// kind takes one), a real <c>pg_dump</c> of the portal's database and everything the portal logged hold none of the
/// binding secrets, backend admin passwords or the platform CA's key.
/// </summary>
public sealed class SecretsAtRestTests(SecretsAtRestTests.Fixture fixture) : IClassFixture<SecretsAtRestTests.Fixture>
{
    /// <summary>The portal with every log line (message and exception) kept for inspection.</summary>
    public sealed class Fixture : PortalAppFactory
    {
        private readonly LogCapture _everything = new();

        public ConcurrentQueue<string> Logged => _everything.Lines;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging => logging.AddProvider(_everything));
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

        foreach (var id in instances)
        {
            await api.DeleteReadyAsync(id);
        }
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
