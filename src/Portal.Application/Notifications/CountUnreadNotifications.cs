using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;

namespace Portal.Application.Notifications;

/// <summary>How many of the actor's notifications are unread, for the bell.</summary>
public sealed class CountUnreadNotificationsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<int> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Notifications.CountAsync(n => n.UserId == actor.UserId && n.ReadAt == null, ct);
    }
}
