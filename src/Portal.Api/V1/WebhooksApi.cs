using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Webhooks;

namespace Portal.Api.V1;

public static class WebhooksApi
{
    public static RouteGroupBuilder MapWebhooksApi(this RouteGroupBuilder api)
    {
        var team = api.MapGroup("/teams/{teamId:guid}/webhooks").WithTags("Webhooks");
        team.MapGet("/", (HttpContext http, Guid teamId, ListWebhooksHandler handler, CancellationToken ct) => List(http, teamId, handler, ct))
            .WithSummary("The team's webhooks (owners)");
        team.MapPost("/", (HttpContext http, Guid teamId, CreateWebhook request, CreateWebhookHandler handler, CancellationToken ct) =>
                Create(http, teamId, request, handler, ct))
            .WithSummary("Add a webhook for the team's events; its signing secret is returned once (owners)");
        team.MapDelete("/{webhookId:guid}", (HttpContext http, Guid teamId, Guid webhookId, DeleteWebhookHandler handler, CancellationToken ct) =>
                Delete(http, teamId, webhookId, handler, ct))
            .WithSummary("Remove a webhook (owners)");

        var platform = api.MapGroup("/webhooks").WithTags("Webhooks");
        platform.MapGet("/", (HttpContext http, ListWebhooksHandler handler, CancellationToken ct) => List(http, null, handler, ct))
            .WithSummary("The platform's webhooks: every team's events (platform admins)");
        platform.MapPost("/", (HttpContext http, CreateWebhook request, CreateWebhookHandler handler, CancellationToken ct) =>
                Create(http, null, request, handler, ct))
            .WithSummary("Add a platform webhook; its signing secret is returned once (platform admins)");
        platform.MapDelete("/{webhookId:guid}", (HttpContext http, Guid webhookId, DeleteWebhookHandler handler, CancellationToken ct) =>
                Delete(http, null, webhookId, handler, ct))
            .WithSummary("Remove a platform webhook (platform admins)");
        return api;
    }

    private static async Task<Ok<IReadOnlyList<WebhookView>>> List(HttpContext http, Guid? teamId, ListWebhooksHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), teamId, ct));

    private static async Task<Created<WebhookCreated>> Create(
        HttpContext http, Guid? teamId, CreateWebhook request, CreateWebhookHandler handler, CancellationToken ct)
    {
        var created = await handler.HandleAsync(http.Actor(), teamId, request, ct);
        return TypedResults.Created(teamId is null ? "/api/v1/webhooks" : $"/api/v1/teams/{teamId}/webhooks", created);
    }

    private static async Task<NoContent> Delete(HttpContext http, Guid? teamId, Guid webhookId, DeleteWebhookHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), teamId, webhookId, ct);
        return TypedResults.NoContent();
    }
}
