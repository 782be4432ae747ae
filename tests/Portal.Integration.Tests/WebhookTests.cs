using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Portal.Application.Teams;
using Portal.Application.Webhooks;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>Outgoing webhooks: a receiver on loopback gets the team's events, signed with the webhook's secret.</summary>
public sealed class WebhookTests(WebhookTests.Fixture fixture) : IClassFixture<WebhookTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private sealed record Received(string Event, string Timestamp, string Signature, string Body);

    [Fact]
    public async Task InstanceRequest_TeamWebhook_ReceivesSignedSubmittedAndReadyEvents()
    {
        await fixture.AllowEgressAsync("127.0.0.1"); // the receiver listens on loopback
        await using var receiver = await Receiver.StartAsync();
        var received = receiver.Received;
        var url = receiver.Url;

        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Hooked", null)));
        var ownerAccount = await fixture.RunAsync<CreateServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, team.Id, new CreateServiceAccount("ci", "owner")));
        var owner = await ApiClient.SignInAsync(fixture.CreateClient(), ownerAccount.ClientId, ownerAccount.ClientSecret);

        var (status, problem, _) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/teams/{team.Id}/webhooks", new { url = "not a url" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var (created, hook, _) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/teams/{team.Id}/webhooks", new { url });
        Assert.Equal(HttpStatusCode.Created, created);
        var secret = hook!["secret"]!.GetValue<string>();
        Assert.DoesNotContain(secret, (await owner.GetOkAsync($"/api/v1/teams/{team.Id}/webhooks")).ToJsonString());

        var (_, body, _) = await owner.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId = team.Id, offering = "postgresql", plan = "small", name = "hooked-db" });
        var instanceId = body!["value"]!["id"]!.GetValue<string>();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!received.Any(r => r.Event == "instance.ready") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.Equal(["request.submitted", "instance.ready"], received.Select(r => r.Event).ToArray());
        foreach (var delivery in received.ToArray())
        {
            Assert.Equal(WebhookDeliveryJob.Sign(secret, delivery.Timestamp, delivery.Body), delivery.Signature);
            Assert.NotEqual(WebhookDeliveryJob.Sign("wrong-secret", delivery.Timestamp, delivery.Body), delivery.Signature);
            var json = JsonNode.Parse(delivery.Body)!;
            Assert.Equal(delivery.Event, json["type"]!.GetValue<string>());
            Assert.Equal(team.Id.ToString(), json["teamId"]!.GetValue<string>());
            Assert.Equal(instanceId, json["data"]!["instanceId"]!.GetValue<string>());
        }

        // Before a lease ends, the team hears of it.
        await using (var db = new Npgsql.NpgsqlConnection(fixture.ConnectionString))
        {
            await db.OpenAsync();
            await using var soon = new Npgsql.NpgsqlCommand($"UPDATE \"Instances\" SET \"ExpiresAt\" = now() + interval '1 day' WHERE \"Id\" = '{instanceId}'", db);
            Assert.Equal(1, await soon.ExecuteNonQueryAsync());
        }

        await fixture.RunAsync<Portal.Application.Leases.LeaseJob, bool>(async job =>
        {
            await job.RunAsync(CancellationToken.None);
            return true;
        });
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (!received.Any(r => r.Event == "lease.expiring") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        var expiring = Assert.Single(received, r => r.Event == "lease.expiring");
        Assert.Equal(WebhookDeliveryJob.Sign(secret, expiring.Timestamp, expiring.Body), expiring.Signature);

        await owner.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{instanceId}");
    }

    [Fact]
    public async Task BindingLifecycle_TeamWebhook_HearsEachCredentialChange_WithoutSecrets()
    {
        await fixture.AllowEgressAsync("127.0.0.1"); // the receiver listens on loopback
        await using var receiver = await Receiver.StartAsync();
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Bound hooks", null)));
        var ownerAccount = await fixture.RunAsync<CreateServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, team.Id, new CreateServiceAccount("ci", "owner")));
        var owner = await ApiClient.SignInAsync(fixture.CreateClient(), ownerAccount.ClientId, ownerAccount.ClientSecret);
        var (instanceId, _) = await owner.RequestReadyAsync(team.Id, "postgresql", "small", "hooked-binding-db");
        var (_, hook, _) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/teams/{team.Id}/webhooks", new { url = receiver.Url });
        var secret = hook!["secret"]!.GetValue<string>();

        var (bindingId, credentials) = await owner.BindReadyAsync(instanceId, "hooked-app", clientCertificate: true);
        await fixture.RunAsync<Portal.Application.Bindings.CertificateRenewalJob, DateTimeOffset>(job => job.RenewAsync(bindingId, CancellationToken.None));
        var (rotateStatus, _, rotation) = await owner.SendAsync(HttpMethod.Post, $"/api/v1/instances/{instanceId}/bindings/{bindingId}/rotate", new { overlapMinutes = 0 });
        Assert.Equal(HttpStatusCode.Accepted, rotateStatus);
        await owner.WaitForAsync(rotation.Headers.Location!.OriginalString, o => o["state"]!.GetValue<string>() == "Succeeded", "the rotation");
        await owner.UnbindAsync(instanceId, bindingId);

        string[] expected = ["binding.ready", "binding.certificate-renewed", "binding.rotated", "binding.revoked"];
        // Each delivery is its own job, so they may arrive out of order; occurredAt orders them.
        var deliveries = (await receiver.WaitForAsync(r => r.Event.StartsWith("binding.", StringComparison.Ordinal), expected.Length))
            .OrderBy(r => JsonNode.Parse(r.Body)!["occurredAt"]!.GetValue<DateTimeOffset>()).ToArray();
        Assert.Equal(expected, deliveries.Select(r => r.Event).ToArray());
        Assert.Equal([0, 0, 1, 1], deliveries.Select(r => JsonNode.Parse(r.Body)!["data"]!["generation"]!.GetValue<int>()).ToArray());
        foreach (var delivery in deliveries)
        {
            Assert.Equal(WebhookDeliveryJob.Sign(secret, delivery.Timestamp, delivery.Body), delivery.Signature);
            var data = JsonNode.Parse(delivery.Body)!["data"]!;
            Assert.Equal(bindingId.ToString(), data["bindingId"]!.GetValue<string>());
            Assert.Equal(instanceId.ToString(), data["instanceId"]!.GetValue<string>());
            Assert.Equal("hooked-app", data["appName"]!.GetValue<string>());
            // An event says that the credentials changed, never what they are.
            Assert.DoesNotContain("PRIVATE KEY", delivery.Body, StringComparison.Ordinal);
            Assert.DoesNotContain(credentials["username"]!.GetValue<string>(), delivery.Body, StringComparison.Ordinal);
        }

        Assert.NotNull(JsonNode.Parse(deliveries[1].Body)!["data"]!["certificateExpiresAt"]);
        Assert.Equal("Deleted", JsonNode.Parse(deliveries[3].Body)!["data"]!["state"]!.GetValue<string>());
        await owner.DeleteReadyAsync(instanceId);
    }

    /// <summary>A real HTTP receiver on a free loopback port that keeps what it was sent, in order.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private Receiver(WebApplication app, ConcurrentQueue<Received> received)
        {
            _app = app;
            Received = received;
            Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hook";
        }

        public ConcurrentQueue<Received> Received { get; }

        public string Url { get; }

        public static async Task<Receiver> StartAsync()
        {
            var received = new ConcurrentQueue<Received>();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            app.MapPost("/hook", async (HttpRequest request) =>
            {
                using var reader = new StreamReader(request.Body);
                received.Enqueue(new Received(request.Headers["X-Portal-Event"]!, request.Headers[WebhookDeliveryJob.TimestampHeader]!,
                    request.Headers[WebhookDeliveryJob.SignatureHeader]!, await reader.ReadToEndAsync()));
                return Results.Ok();
            });
            await app.StartAsync();
            return new Receiver(app, received);
        }

        /// <summary>Waits up to 30 s for <paramref name="count"/> deliveries that match, and returns those that came.</summary>
        public async Task<Received[]> WaitForAsync(Func<Received, bool> match, int count)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (Received.Count(match) < count && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }

            return Received.Where(match).ToArray();
        }

        public ValueTask DisposeAsync() => _app.DisposeAsync();
    }
}
