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
        // A real HTTP receiver on a free loopback port.
        var received = new ConcurrentQueue<Received>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var receiver = builder.Build();
        receiver.MapPost("/hook", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            received.Enqueue(new Received(request.Headers["X-Portal-Event"]!, request.Headers[WebhookDeliveryJob.TimestampHeader]!,
                request.Headers[WebhookDeliveryJob.SignatureHeader]!, await reader.ReadToEndAsync()));
            return Results.Ok();
        });
        await receiver.StartAsync();
        var url = receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hook";

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
}
