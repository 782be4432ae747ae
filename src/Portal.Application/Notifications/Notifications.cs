using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;

namespace Portal.Application.Notifications;

public sealed record NotificationView(Guid Id, string Title, string? Body, string? Link, DateTimeOffset CreatedAt, bool Read);

/// <summary>The actor's notifications, newest first, and marking them read.</summary>
public sealed class NotificationsHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task<IReadOnlyList<NotificationView>> ListAsync(Actor actor, bool unreadOnly = false, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Notifications.AsNoTracking()
            .Where(n => n.UserId == actor.UserId && (!unreadOnly || n.ReadAt == null))
            .OrderByDescending(n => n.CreatedAt).Take(100)
            .Select(n => new NotificationView(n.Id, n.Title, n.Body, n.Link, n.CreatedAt, n.ReadAt != null))
            .ToListAsync(ct);
    }

    public async Task<int> CountUnreadAsync(Actor actor, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Notifications.CountAsync(n => n.UserId == actor.UserId && n.ReadAt == null, ct);
    }

    /// <summary>Marks one (or, with null, every) notification of the actor read.</summary>
    public async Task MarkReadAsync(Actor actor, Guid? notificationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow();
        var changed = await db.Notifications
            .Where(n => n.UserId == actor.UserId && n.ReadAt == null && (notificationId == null || n.Id == notificationId))
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.ReadAt, now), ct);
        if (notificationId is not null && changed == 0 && !await db.Notifications.AnyAsync(n => n.Id == notificationId && n.UserId == actor.UserId, ct))
        {
            throw new NotFoundException("Notification");
        }
    }
}
