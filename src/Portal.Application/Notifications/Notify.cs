using Microsoft.EntityFrameworkCore;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Approvals;
using Portal.Domain.Notifications;

namespace Portal.Application.Notifications;

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
