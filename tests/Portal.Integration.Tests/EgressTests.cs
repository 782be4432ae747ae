using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Portal.Application.Webhooks;
using Portal.Data;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// The egress policy against real listeners on loopback: URLs that reach inside the platform are refused when given
/// (400 naming the field and the rule, nothing made) and when connected to (the listener hears nothing); an admin's allow
/// entry opens exactly what it names, and its removal closes it again at the next connection, apply or reconcile.
/// </summary>
public sealed class EgressTests(EgressTests.Fixture fixture) : IClassFixture<EgressTests.Fixture>
{
    /// <summary>No allow entries but those a test adds (and removes again): the default policy.</summary>
    public sealed class Fixture : PortalAppFactory;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CreateWebhook_UrlInsideThePlatform_Is400NamingTheRuleAndCreatesNothing()
    {
        var teamId = await fixture.DemoTeamIdAsync();
        var (owner, _) = await fixture.TeamAccountAsync(teamId, "owner");
        var (platform, _) = await fixture.PlatformAccountAsync($"egress-{Guid.NewGuid():N}"[..20]);
        using var service = new TcpListener(IPAddress.Loopback, 0); // a live service on loopback: the refusals must not reach it
        service.Start();
        var port = ((IPEndPoint)service.LocalEndpoint).Port;

        (string Url, string Rule)[] cases =
        [
            ($"http://127.0.0.1:{port}/hook", "127.0.0.1 is a loopback address; egress to loopback addresses is denied (ask a platform admin to allow it)"),
            ($"http://localhost:{port}/hook", "a loopback address"),
            ($"http://[::1]:{port}/hook", "::1 is a loopback address"),
            ($"http://[::ffff:127.0.0.1]:{port}/hook", "127.0.0.1 is a loopback address"),
            ($"http://2130706433:{port}/hook", "not an IPv4 address in its usual spelling (clients read it as 127.0.0.1)"),
            ($"http://0x7f.1:{port}/hook", "not an IPv4 address in its usual spelling (clients read it as 127.0.0.1)"),
            ($"http://127.1:{port}/hook", "not an IPv4 address in its usual spelling (clients read it as 127.0.0.1)"),
            ($"https://x@127.0.0.1:{port}/", "User info (user@host) is not allowed in URLs."),
            ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
            ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
            ("http://192.168.0.10/hook", "192.168.0.10 is a private address"),
            ("http://100.64.0.1/hook", "100.64.0.1 is a shared (CGNAT) address"),
            ("http://[fd00::1]/hook", "fd00::1 is a unique-local address"),
            ("http://0.0.0.0/hook", "0.0.0.0 is an unspecified address"),
            ("gopher://127.0.0.1:6379/_FLUSHALL", "Only http and https URLs are allowed."),
        ];
        foreach (var (url, rule) in cases)
        {
            var (status, problem, _) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/teams/{teamId}/webhooks", new { url });
            Assert.True(status == HttpStatusCode.BadRequest, $"{url}: {(int)status} {problem?.ToJsonString()}");
            var error = Assert.Single(problem!["errors"]!["url"]!.AsArray())!.GetValue<string>();
            Assert.Contains(rule, error, StringComparison.Ordinal);
        }

        // Platform webhooks (every team's events) follow the same policy.
        var (platformStatus, platformProblem, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/webhooks", new { url = $"http://127.0.0.1:{port}/" });
        Assert.Equal(HttpStatusCode.BadRequest, platformStatus);
        Assert.Contains("loopback", platformProblem!["errors"]!["url"]![0]!.GetValue<string>(), StringComparison.Ordinal);

        Assert.Empty((await owner.GetOkAsync($"/api/v1/teams/{teamId}/webhooks")).AsArray());
        Assert.Empty((await platform.GetOkAsync("/api/v1/webhooks")).AsArray());
        Assert.False(service.Pending(), "something connected to the loopback service");
    }

    [Fact]
    public async Task RequestMonitoring_TargetsOrAlertWebhookInsideThePlatform_Is400NamingTheFieldAndCreatesNothing()
    {
        TestEnvironment.BackendOf("monitoring");
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        (string Parameter, string Value, string Rule)[] cases =
        [
            ("targets", "127.0.0.1:9100", "127.0.0.1 is a loopback address; egress to loopback addresses is denied"),
            ("targets", "http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
            ("targets", "[::1]:9100", "::1 is a loopback address"),
            ("targets", "2130706433:9100", "clients read it as 127.0.0.1"),
            ("targets", "0x7f.1:9100", "clients read it as 127.0.0.1"),
            ("targets", "10.20.30.40:9100", "10.20.30.40 is a private address"),
            ("targets", "localhost:9100", "a loopback address"),
            ("alertWebhook", "http://127.0.0.1:5001/alerts", "127.0.0.1 is a loopback address"),
            ("alertWebhook", "http://x@example.com/alerts", "User info"),
        ];
        foreach (var (parameter, value, rule) in cases)
        {
            var parameters = new Dictionary<string, string> { ["targets"] = "93.184.215.14:9100", [parameter] = value };
            var (status, problem, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances",
                new { teamId, offering = "monitoring", plan = "plus", name = "scanner", parameters });
            Assert.True(status == HttpStatusCode.BadRequest, $"{parameter}={value}: {(int)status} {problem?.ToJsonString()}");
            var errors = problem!["errors"]!.AsObject();
            Assert.Equal([$"parameters.{parameter}"], errors.Select(e => e.Key).ToArray());
            Assert.Contains(rule, errors[$"parameters.{parameter}"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.DoesNotContain((await api.GetOkAsync("/api/v1/instances?search=scanner"))["items"]!.AsArray(),
            i => i!["name"]!.GetValue<string>() == "scanner");
    }

    [Fact]
    public async Task WebhookToAllowedHostName_IsDelivered_AndOnceTheEntryIsRemovedRefusedAtConnectTime()
    {
        var teamId = await fixture.DemoTeamIdAsync();
        var (owner, _) = await fixture.TeamAccountAsync(teamId, "owner");
        var (platform, _) = await fixture.PlatformAccountAsync($"egress-{Guid.NewGuid():N}"[..20]);
        await using var receiver = await Listener.StartAsync(_ => Results.Ok());
        var url = $"http://localhost:{receiver.Port}/hook";

        // Without an entry, localhost (loopback) is refused; the admin allows the name, then the URL is accepted.
        var (refused, _, _) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/teams/{teamId}/webhooks", new { url });
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        var entryId = await AllowAsync(platform, new { target = "localhost", note = "webhook receiver in this test" });
        var (created, hook, _) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/teams/{teamId}/webhooks", new { url });
        Assert.True(created == HttpStatusCode.Created, hook?.ToJsonString());
        var webhookId = Guid.Parse(hook!["webhook"]!["id"]!.GetValue<string>());

        try
        {
            await PublishAsync(teamId, "allowed");
            await ApiClient.WaitUntilAsync(() => Task.FromResult(receiver.Requests.Count == 1), "the allowed delivery", 30);

            // The entry goes: the next delivery is refused when it connects, and the receiver hears nothing more.
            Assert.Equal(HttpStatusCode.NoContent, (await platform.SendAsync(HttpMethod.Delete, $"/api/v1/egress-allow-list/{entryId}")).Status);
            entryId = Guid.Empty;
            await PublishAsync(teamId, "after-removal");
            var error = await LastErrorAsync(webhookId, "after-removal");
            Assert.StartsWith("Refused by the egress policy: localhost resolves to ", error, StringComparison.Ordinal);
            Assert.Contains("a loopback address", error, StringComparison.Ordinal);
            Assert.Single(receiver.Requests);
        }
        finally
        {
            await RemoveAsync(platform, entryId);
            await owner.SendAsync(HttpMethod.Delete, $"/api/v1/teams/{teamId}/webhooks/{webhookId}");
        }
    }

    [Fact]
    public async Task WebhookAnsweredWithARedirect_IsNotFollowed()
    {
        var teamId = await fixture.DemoTeamIdAsync();
        var (owner, _) = await fixture.TeamAccountAsync(teamId, "owner");
        var (platform, _) = await fixture.PlatformAccountAsync($"egress-{Guid.NewGuid():N}"[..20]);
        await using var second = await Listener.StartAsync(_ => Results.Ok());
        await using var first = await Listener.StartAsync(_ => Results.Redirect($"http://localhost:{second.Port}/hook"));

        // Both listeners are allowed (by name): only the client's refusal to follow keeps the second one out.
        var entryId = await AllowAsync(platform, new { target = "localhost" });
        var (_, hook, _) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/teams/{teamId}/webhooks", new { url = $"http://localhost:{first.Port}/hook" });
        var webhookId = Guid.Parse(hook!["webhook"]!["id"]!.GetValue<string>());
        try
        {
            await PublishAsync(teamId, "redirected");
            var error = await LastErrorAsync(webhookId, "redirected");
            Assert.Contains("302", error, StringComparison.Ordinal);
            Assert.NotEmpty(first.Requests);
            Assert.Empty(second.Requests);
        }
        finally
        {
            await owner.SendAsync(HttpMethod.Delete, $"/api/v1/teams/{teamId}/webhooks/{webhookId}");
            await RemoveAsync(platform, entryId);
        }
    }

    [Fact]
    public async Task MonitoringTarget_AllowedForItsBackend_IsAccepted_AndOnceRemovedReconcileDriftsAndRepairRefuses()
    {
        TestEnvironment.BackendOf("monitoring");
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (platform, _) = await fixture.PlatformAccountAsync($"egress-{Guid.NewGuid():N}"[..20]);
        await using var app = await Listener.StartAsync(_ => Results.Text("# TYPE egress_up gauge\negress_up 1\n"));
        var backendId = (await platform.GetOkAsync("/api/v1/backends")).AsArray()
            .Single(b => b!["kind"]!.GetValue<string>() == "monitoring")!["id"]!.GetValue<Guid>();

        var entryId = await AllowAsync(platform, new { target = "127.0.0.1", backendId, note = "the app in this test" });
        var target = $"127.0.0.1:{app.Port}";
        try
        {
            // The entry is the backend's alone: the portal's own webhooks still may not reach loopback.
            var (owner, _) = await fixture.TeamAccountAsync(teamId, "owner");
            var (hookStatus, _, _) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/teams/{teamId}/webhooks", new { url = $"http://{target}/hook" });
            Assert.Equal(HttpStatusCode.BadRequest, hookStatus);

            var (id, _) = await api.RequestReadyAsync(teamId, "monitoring", "plus", "egress-mon",
                new Dictionary<string, string> { ["targets"] = target });
            await api.WaitForAsync($"/api/v1/instances/{id}/targets",
                t => t.AsArray().Any(x => x!["health"]!.GetValue<string>() == "up"), "Prometheus to scrape the allowed target", 90);

            // The entry goes: reconcile marks the instance drifted, and a repair refuses to apply the target again.
            await RemoveAsync(platform, entryId);
            entryId = Guid.Empty;
            var (status, outcome, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/reconcile");
            Assert.True(status == HttpStatusCode.OK, outcome?.ToJsonString());
            Assert.Equal("Drifted", outcome!["state"]!.GetValue<string>());
            Assert.Contains(outcome["differences"]!.AsArray(), d => d!.GetValue<string>() ==
                $"egress denied: parameters.targets: http://{target}: 127.0.0.1 is a loopback address; egress to loopback addresses is denied (ask a platform admin to allow it).");

            var (repair, repairBody, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/repair");
            Assert.True(repair == HttpStatusCode.Accepted, repairBody?.ToJsonString());
            var failed = await api.WaitForAsync($"/api/v1/instances/{id}",
                i => i["operations"]!.AsArray().Any(o => o!["kind"]!.GetValue<string>() == "Repair" && o["state"]!.GetValue<string>() == "Failed"),
                "the repair to be refused", 60);
            var operation = failed["operations"]!.AsArray().First(o => o!["kind"]!.GetValue<string>() == "Repair")!;
            Assert.Contains("127.0.0.1 is a loopback address", operation["error"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        finally
        {
            await RemoveAsync(platform, entryId);
        }
    }

    [Fact]
    public async Task AllowList_PlatformAdminsOnly_BadTargets400_ChangesAudited()
    {
        var teamId = await fixture.DemoTeamIdAsync();
        var (owner, _) = await fixture.TeamAccountAsync(teamId, "owner");
        var (platform, _) = await fixture.PlatformAccountAsync($"egress-{Guid.NewGuid():N}"[..20]);

        Assert.Equal(HttpStatusCode.Forbidden, (await owner.SendAsync(HttpMethod.Get, "/api/v1/egress-allow-list")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await owner.SendAsync(HttpMethod.Post, "/api/v1/egress-allow-list", new { target = "10.0.0.0/8" })).Status);

        foreach (var bad in new[] { "0.0.0.0/0", "10.20.1.0/16", "2130706433", "http://example.com/" })
        {
            var (status, problem, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/egress-allow-list", new { target = bad });
            Assert.True(status == HttpStatusCode.BadRequest, $"{bad}: {(int)status}");
            Assert.NotNull(problem!["errors"]!["target"]);
        }

        var (both, bothProblem, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/egress-allow-list",
            new { target = "10.20.0.0/16", site = "dc1", backendId = Guid.NewGuid() });
        Assert.Equal(HttpStatusCode.BadRequest, both);
        Assert.NotNull(bothProblem!["errors"]!["site"]);

        var id = await AllowAsync(platform, new { target = "10.20.0.0/16", site = "dc2", note = "dc2 apps" });
        var (duplicate, _, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/egress-allow-list", new { target = "10.20.0.0/16", site = "dc2" });
        Assert.Equal(HttpStatusCode.Conflict, duplicate);
        var listed = (await platform.GetOkAsync("/api/v1/egress-allow-list")).AsArray().Single(e => e!["id"]!.GetValue<Guid>() == id)!;
        Assert.Equal("site dc2", listed["scope"]!.GetValue<string>());
        await RemoveAsync(platform, id);
        Assert.Equal(HttpStatusCode.NotFound, (await platform.SendAsync(HttpMethod.Delete, $"/api/v1/egress-allow-list/{id}")).Status);

        var audit = (await platform.GetOkAsync($"/api/v1/audit?objectId={id}"))["items"]!.AsArray()
            .Select(e => $"{e!["action"]!.GetValue<string>()}: {e["details"]!.GetValue<string>()}").Order().ToArray();
        Assert.Equal(["egress.allow-removed: 10.20.0.0/16 for site dc2", "egress.allowed: 10.20.0.0/16 for site dc2: dc2 apps"], audit);
    }

    private static async Task<Guid> AllowAsync(ApiClient platform, object entry)
    {
        var (status, body, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/egress-allow-list", entry);
        Assert.True(status == HttpStatusCode.Created, $"{(int)status} {body?.ToJsonString()}");
        return body!["id"]!.GetValue<Guid>();
    }

    private static async Task RemoveAsync(ApiClient platform, Guid entryId)
    {
        if (entryId != Guid.Empty)
        {
            var (status, _, _) = await platform.SendAsync(HttpMethod.Delete, $"/api/v1/egress-allow-list/{entryId}");
            Assert.Equal(HttpStatusCode.NoContent, status);
        }
    }

    /// <summary>Publishes a team event, as the use cases do; <paramref name="marker"/> finds its delivery again.</summary>
    private Task PublishAsync(Guid teamId, string marker) =>
        fixture.RunAsync<WebhookPublisher, bool>(async p =>
        {
            await p.PublishAsync("request.submitted", teamId, new { marker }, Ct);
            return true;
        });

    /// <summary>Waits for the first attempt of the delivery whose body has <paramref name="marker"/> to record its error.</summary>
    private async Task<string> LastErrorAsync(Guid webhookId, string marker)
    {
        var dbFactory = fixture.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>();
        string? error = null;
        await ApiClient.WaitUntilAsync(async () =>
        {
            await using var db = await dbFactory.CreateDbContextAsync(Ct);
            error = await db.WebhookDeliveries.Where(d => d.WebhookId == webhookId && d.Body.Contains(marker) && d.Attempts > 0)
                .Select(d => d.LastError).FirstOrDefaultAsync(Ct);
            return error is not null;
        }, $"the delivery '{marker}' to record its error", 30);
        return error!;
    }

    /// <summary>A real HTTP server on a free loopback port that answers every request with <paramref name="answer"/>.</summary>
    private sealed class Listener : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private Listener(WebApplication app, ConcurrentQueue<string> requests)
        {
            _app = app;
            Requests = requests;
            Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        }

        public ConcurrentQueue<string> Requests { get; }

        public int Port { get; }

        public static async Task<Listener> StartAsync(Func<HttpRequest, IResult> answer)
        {
            var requests = new ConcurrentQueue<string>();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            app.Run(async context =>
            {
                requests.Enqueue($"{context.Request.Method} {context.Request.Path}");
                await answer(context.Request).ExecuteAsync(context);
            });
            await app.StartAsync();
            return new Listener(app, requests);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
