using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Approvals;
using Portal.Domain.Notifications;

namespace Portal.Application.Notifications;

public sealed record NotificationView(Guid Id, string Title, string? Body, string? Link, DateTimeOffset CreatedAt, bool Read);

/// <summary>Adds notifications to a context, to be saved with the change they tell of.</summary>
public static class Notify
{
    public static void Notification(this PortalDbContext db, Guid userId, DateTimeOffset at, string title, string? body, string? link)
    {
        if (userId != Guid.Empty)
        {
            db.Notifications.Add(new Notification { UserId = userId, Title = title, Body = body, Link = link, CreatedAt = at });
        }
    }

    /// <summary>Tells the people who may decide <paramref name="stage"/> that a request waits for them.</summary>
    public static async Task NotifyApproversAsync(
        this PortalDbContext db, ApprovalStage stage, Guid teamId, Guid requester, DateTimeOffset at, string title, string body, CancellationToken ct)
    {
        var people = stage.Approvers switch
        {
            ApproverKind.TeamOwners => await db.TeamMembers.Where(m => m.TeamId == teamId && m.Role == TeamRole.Owner).Select(m => m.UserId).ToListAsync(ct),
            ApproverKind.PlatformApprovers => await (
                from ur in db.UserRoles
                join r in db.Roles on ur.RoleId equals r.Id
                where r.Name == PlatformRoles.Approver
                select ur.UserId).ToListAsync(ct),
            ApproverKind.Group => await db.ApproverGroups.Where(g => g.Name == stage.Group).Select(g => g.Members).FirstOrDefaultAsync(ct) ?? [],
            _ => [],
        };
        foreach (var person in people.Where(p => p != requester).Distinct())
        {
            db.Notification(person, at, title, body, "/approvals");
        }
    }
}

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
