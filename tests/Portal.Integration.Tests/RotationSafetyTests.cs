using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Operations;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// A rotation happens once: two at the same moment make one operation (the other is a 409), and a rotation that runs again
/// after its new generation was recorded (its worker died before marking it done) makes no further generation and keeps
/// the overlap it promised.
/// </summary>
public sealed class RotationSafetyTests(RotationSafetyTests.Fixture fixture) : IClassFixture<RotationSafetyTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Rotate_TwoAtOnce_OneAcceptedOneConflict_AndARerunAfterTheNewGenerationKeepsTheOverlap()
    {
        var (dev, teamId) = await fixture.DemoDeveloperAsync();
        var (instanceId, _) = await dev.RequestReadyAsync(teamId, "postgresql", "small", "rotated-once-db");
        var (bindingId, first) = await dev.BindReadyAsync(instanceId, "rotated-once-app");
        var bindingUrl = $"/api/v1/instances/{instanceId}/bindings/{bindingId}";

        // Both requests are answered while the accepted rotation cannot finish yet: a worker holds the instance.
        (HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)[] answers;
        await using (await HoldInstanceAsync(instanceId))
        {
            answers = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ =>
                dev.SendAsync(HttpMethod.Post, $"{bindingUrl}/rotate", new { overlapMinutes = 60 })));
        }

        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Conflict], answers.Select(a => a.Status).Order());
        var conflict = answers.Single(a => a.Status == HttpStatusCode.Conflict);
        Assert.Equal("application/problem+json", conflict.Response.Content.Headers.ContentType?.MediaType);
        var location = answers.Single(a => a.Status == HttpStatusCode.Accepted).Response.Headers.Location!.OriginalString;
        var operationId = Guid.Parse(location["/api/v1/operations/".Length..]);
        var rotation = await dev.WaitForAsync(location, o => o["state"]!.GetValue<string>() is "Succeeded" or "Failed", "the rotation");
        Assert.True(rotation["state"]!.GetValue<string>() == "Succeeded", rotation.ToJsonString());

        var rotated = await dev.GetOkAsync(bindingUrl);
        Assert.Equal(1, rotated["generation"]!.GetValue<int>());
        Assert.Equal(0, rotated["retiringGeneration"]!.GetValue<int>());
        var retireAt = rotated["retireAt"]!.GetValue<DateTimeOffset>();
        Assert.InRange(retireAt, DateTimeOffset.UtcNow.AddMinutes(55), DateTimeOffset.UtcNow.AddMinutes(61));
        Assert.Equal(1, await OperationsAsync(bindingId, OperationKind.Rotate));
        Assert.Equal(1, await AuditCountAsync(bindingId, "binding.rotated"));
        var second = (await dev.GetOkAsync($"{bindingUrl}/credentials"))["credentials"]!;
        Assert.NotEqual(first["username"]!.GetValue<string>(), second["username"]!.GetValue<string>());

        // The worker died after recording generation 1 and before marking the operation done; the job runs it again.
        await using (var scope = fixture.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
            await db.Operations.Where(o => o.Id == operationId).ExecuteUpdateAsync(s => s
                .SetProperty(o => o.State, OperationState.Running)
                .SetProperty(o => o.FinishedAt, (DateTimeOffset?)null), Ct);
            await scope.ServiceProvider.GetRequiredService<OperationJob>().RunAsync(operationId, Ct);
        }

        var rerun = await dev.GetOkAsync(location);
        Assert.Equal("Succeeded", rerun["state"]!.GetValue<string>());
        Assert.Contains(rerun["lines"]!.AsArray(), l => l!["message"]!.GetValue<string>() == "Generation 1 was made by an earlier attempt");
        var after = await dev.GetOkAsync(bindingUrl);
        Assert.Equal(1, after["generation"]!.GetValue<int>());
        Assert.Equal(0, after["retiringGeneration"]!.GetValue<int>());
        Assert.Equal(retireAt, after["retireAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal(second.ToJsonString(), (await dev.GetOkAsync($"{bindingUrl}/credentials"))["credentials"]!.ToJsonString());

        // Both generations still work: the old one until the overlap ends.
        await AppConnections.RoundTripAsync("postgresql", first, Ct);
        await AppConnections.RoundTripAsync("postgresql", second, Ct);
        await dev.DeleteReadyAsync(instanceId);
    }

    /// <summary>The instance's lock, as a worker running one of its operations holds it.</summary>
    private async Task<InstanceLock> HoldInstanceAsync(Guid instanceId)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        return await InstanceLock.AcquireAsync(scope.ServiceProvider.GetRequiredService<PortalDbContext>(), instanceId, Ct);
    }

    private async Task<int> OperationsAsync(Guid bindingId, OperationKind kind)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
        return await db.Operations.CountAsync(o => o.BindingId == bindingId && o.Kind == kind, Ct);
    }

    private async Task<int> AuditCountAsync(Guid bindingId, string action)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
        var id = bindingId.ToString();
        return await db.AuditEvents.CountAsync(e => e.ObjectId == id && e.Action == action, Ct);
    }
}
