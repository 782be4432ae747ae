using System.Net;
using System.Text.Json.Nodes;

namespace Portal.Integration.Tests;

/// <summary>The steps every offering's flow shares, through the REST API: request until Ready, bind until Ready.</summary>
internal static class InstanceFlows
{
    /// <summary>Requests an instance and waits until it is Ready (asserting it did not fail).</summary>
    public static async Task<(Guid Id, JsonNode Body)> RequestReadyAsync(
        this ApiClient api, Guid teamId, string offering, string plan, string name, object? parameters = null, string? site = null)
    {
        var (status, body, response) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering, plan, name, parameters, site });
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body?.ToJsonString()}");
        Assert.StartsWith("/api/v1/operations/", response.Headers.Location!.OriginalString);
        var id = Guid.Parse(body!["value"]!["id"]!.GetValue<string>());
        var ready = await api.WaitForAsync($"/api/v1/instances/{id}",
            i => i["instance"]!["state"]!.GetValue<string>() is "Ready" or "Failed", $"{name} to be Ready");
        Assert.True(ready["instance"]!["state"]!.GetValue<string>() == "Ready", ready.ToJsonString());
        return (id, ready);
    }

    /// <summary>Binds an app, waits until the binding is Ready and reveals its credentials.</summary>
    public static async Task<(Guid Id, JsonNode Credentials)> BindReadyAsync(
        this ApiClient api, Guid instanceId, string appName, bool clientCertificate = false)
    {
        var (status, body, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{instanceId}/bindings", new { appName, clientCertificate });
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body?.ToJsonString()}");
        var bindingId = body!["value"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/api/v1/instances/{instanceId}/bindings",
            list => list.AsArray().Any(b => b!["id"]!.GetValue<string>() == bindingId && b["state"]!.GetValue<string>() == "Ready"),
            $"binding {appName} to be Ready");
        var credentials = await api.GetOkAsync($"/api/v1/instances/{instanceId}/bindings/{bindingId}/credentials");
        return (Guid.Parse(bindingId), credentials["credentials"]!);
    }

    /// <summary>Unbinds and waits until the binding is gone from the list.</summary>
    public static async Task UnbindAsync(this ApiClient api, Guid instanceId, Guid bindingId)
    {
        var (status, body, _) = await api.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{instanceId}/bindings/{bindingId}");
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body?.ToJsonString()}");
        await api.WaitForAsync($"/api/v1/instances/{instanceId}/bindings",
            list => list.AsArray().All(b => b!["id"]!.GetValue<string>() != bindingId.ToString() || b["state"]!.GetValue<string>() == "Deleted"),
            "the binding to be deleted");
    }

    /// <summary>Deletes an instance and waits until it is Deleted.</summary>
    public static async Task DeleteReadyAsync(this ApiClient api, Guid instanceId)
    {
        var (status, body, _) = await api.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{instanceId}");
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body?.ToJsonString()}");
        var deleted = await api.WaitForAsync($"/api/v1/instances/{instanceId}",
            i => i["instance"]!["state"]!.GetValue<string>() is "Deleted" or "Failed", "the instance to be deleted", seconds: 120);
        Assert.True(deleted["instance"]!["state"]!.GetValue<string>() == "Deleted", deleted.ToJsonString());
    }
}
