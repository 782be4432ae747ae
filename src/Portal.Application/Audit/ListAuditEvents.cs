using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Audit;

namespace Portal.Application.Audit;

/// <summary>
/// The audit trail, newest first. Platform admins see everything; team owners see their teams' events;
/// nobody else sees any.
/// </summary>
public sealed class ListAuditEventsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<Page<AuditEventView>> HandleAsync(Actor actor, AuditQuery query, CancellationToken ct = default)
    {
        var pageSize = Math.Clamp(query.PageSize, 1, 500);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var events = Filter(db, actor, query);
        var total = await events.CountAsync(ct);
        var items = await events.OrderByDescending(e => e.Sequence).Skip(Math.Max(query.Page, 0) * pageSize).Take(pageSize)
            .Select(ToView).ToListAsync(ct);
        return new Page<AuditEventView>(items, total, query.Page, pageSize);
    }

    internal static IQueryable<AuditEvent> Filter(PortalDbContext db, Actor actor, AuditQuery query)
    {
        var events = db.AuditEvents.AsNoTracking();
        if (!actor.IsPlatformAdmin)
        {
            var owned = db.TeamMembers.Where(m => m.UserId == actor.UserId && m.Role == TeamRole.Owner).Select(m => (Guid?)m.TeamId);
            events = events.Where(e => e.TeamId != null && owned.Contains(e.TeamId));
        }

        if (query.TeamId is { } teamId)
        {
            events = events.Where(e => e.TeamId == teamId);
        }

        if (!string.IsNullOrWhiteSpace(query.User))
        {
            events = Guid.TryParse(query.User, out var userId)
                ? events.Where(e => e.ActorId == userId)
                : events.Where(e => EF.Functions.ILike(e.ActorName, "%" + Escape(query.User.Trim()) + "%"));
        }

        if (!string.IsNullOrWhiteSpace(query.ObjectType))
        {
            events = events.Where(e => e.ObjectType == query.ObjectType);
        }

        if (!string.IsNullOrWhiteSpace(query.ObjectId))
        {
            events = events.Where(e => e.ObjectId == query.ObjectId);
        }

        if (!string.IsNullOrWhiteSpace(query.Action))
        {
            events = events.Where(e => e.Action.StartsWith(query.Action.Trim()));
        }

        if (query.From is { } from)
        {
            events = events.Where(e => e.At >= from);
        }

        if (query.To is { } to)
        {
            events = events.Where(e => e.At < to);
        }

        return events;
    }

    internal static readonly System.Linq.Expressions.Expression<Func<AuditEvent, AuditEventView>> ToView = e => new AuditEventView(
        e.Sequence, e.At, e.ActorId, e.ActorName, e.ActorKind, e.Action, e.ObjectType, e.ObjectId, e.TeamId, e.Address, e.Outcome, e.Details, e.Hash);

    private static string Escape(string text) => text.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_");
}
