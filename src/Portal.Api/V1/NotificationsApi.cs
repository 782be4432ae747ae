using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Notifications;

namespace Portal.Api.V1;

public static class NotificationsApi
{
    public static RouteGroupBuilder MapNotificationsApi(this RouteGroupBuilder api)
    {
        var notifications = api.MapGroup("/notifications").WithTags("Notifications");
        notifications.MapGet("/", List).WithSummary("Your notifications, newest first (unread=true: only unread)");
        notifications.MapPost("/{notificationId:guid}/read", MarkRead).WithSummary("Mark one notification read");
        notifications.MapPost("/read", MarkAllRead).WithSummary("Mark all your notifications read");
        return api;
    }

    public static async Task<Ok<IReadOnlyList<NotificationView>>> List(HttpContext http, ListNotificationsHandler handler, CancellationToken ct, bool unread = false) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), unread, ct));

    public static async Task<NoContent> MarkRead(HttpContext http, Guid notificationId, MarkNotificationsReadHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), notificationId, ct);
        return TypedResults.NoContent();
    }

    public static async Task<NoContent> MarkAllRead(HttpContext http, MarkNotificationsReadHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), null, ct);
        return TypedResults.NoContent();
    }
}
