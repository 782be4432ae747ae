using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;

namespace Portal.Application.Notifications;

/// <summary>Marks one (or, with null, every) notification of the actor read.</summary>
public sealed class MarkNotificationsReadHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task HandleAsync(Actor actor, Guid? notificationId, CancellationToken ct = default)
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
