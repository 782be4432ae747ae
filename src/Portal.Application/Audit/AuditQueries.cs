using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Audit;

namespace Portal.Application.Audit;

/// <summary>
/// The audit events an actor may read, filtered, for the list and the CSV export: platform admins see everything,
/// team owners their teams' events, nobody else any.
/// </summary>
internal static class AuditQueries
{
    public static IQueryable<AuditEvent> Filter(PortalDbContext db, Actor actor, AuditQuery query)
    {
        InputRules.Check(query);
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

    public static readonly System.Linq.Expressions.Expression<Func<AuditEvent, AuditEventView>> ToView = e => new AuditEventView(
        e.Sequence, e.At, e.ActorId, e.ActorName, e.ActorKind, e.Action, e.ObjectType, e.ObjectId, e.TeamId, e.Address, e.Outcome, e.Details, e.Hash);

    private static string Escape(string text) => text.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_");
}
