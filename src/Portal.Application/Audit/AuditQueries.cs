using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Audit;

namespace Portal.Application.Audit;

public sealed record AuditEventView(
    long Sequence, DateTimeOffset At, Guid? ActorId, string ActorName, string ActorKind, string Action, string ObjectType, string? ObjectId,
    Guid? TeamId, string? Address, string Outcome, string? Details, string Hash);

/// <summary>Filters for the audit trail; every one is optional. <c>User</c> matches the actor's name in part.</summary>
public sealed record AuditQuery(
    Guid? TeamId = null, string? User = null, string? ObjectType = null, string? ObjectId = null, string? Action = null,
    DateTimeOffset? From = null, DateTimeOffset? To = null, int Page = 0, int PageSize = 50);

public sealed record AuditChainReport(bool Intact, long Events, long? FirstBrokenSequence, string Message);

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

/// <summary>The same events as CSV (RFC 4180), oldest first, up to 100,000 rows.</summary>
public sealed class ExportAuditCsvHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public const int MaxRows = 100_000;

    public async Task<string> HandleAsync(Actor actor, AuditQuery query, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var csv = new StringBuilder("sequence,at,actor_id,actor_name,actor_kind,action,object_type,object_id,team_id,address,outcome,details,hash\r\n");
        await foreach (var e in ListAuditEventsHandler.Filter(db, actor, query).OrderBy(e => e.Sequence).Take(MaxRows).Select(ListAuditEventsHandler.ToView)
                           .AsAsyncEnumerable().WithCancellation(ct))
        {
            csv.AppendJoin(',', [
                e.Sequence.ToString(CultureInfo.InvariantCulture), e.At.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                e.ActorId?.ToString() ?? "", Quote(e.ActorName), e.ActorKind, e.Action, e.ObjectType, Quote(e.ObjectId), e.TeamId?.ToString() ?? "",
                e.Address ?? "", e.Outcome, Quote(e.Details), e.Hash,
            ]).Append("\r\n");
        }

        return csv.ToString();
    }

    // Quote every free-text field; a leading =, +, - or @ is defused so spreadsheets do not run it.
    private static string Quote(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        var safe = value[0] is '=' or '+' or '-' or '@' ? "'" + value : value;
        return "\"" + safe.Replace("\"", "\"\"") + "\"";
    }
}

/// <summary>
/// Recomputes the hash chain in the database with the same function that wrote it, and reports the
/// first event whose link is broken. Platform admins only.
/// </summary>
public sealed class VerifyAuditChainHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<AuditChainReport> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var count = await db.AuditEvents.LongCountAsync(ct);
        var broken = await db.Database.SqlQuery<long>($"""
            SELECT "Sequence" AS "Value" FROM (
                SELECT e.*, lag("Hash") OVER (ORDER BY "Sequence") AS expected_previous,
                       lag("Sequence") OVER (ORDER BY "Sequence") AS previous_sequence
                FROM "AuditEvents" e) chained
            WHERE "PreviousHash" <> coalesce(expected_previous, '')
               OR "Sequence" <> coalesce(previous_sequence, 0) + 1
               OR "Hash" <> portal_audit_digest("PreviousHash", "Sequence", "At", "ActorId", "ActorName", "ActorKind", "Action",
                                                "ObjectType", "ObjectId", "TeamId", "Address", "Outcome", "Details")
            ORDER BY "Sequence"
            LIMIT 1
            """).ToListAsync(ct);
        return broken.Count == 0
            ? new AuditChainReport(true, count, null, $"The chain of {count} event{(count == 1 ? "" : "s")} is intact.")
            : new AuditChainReport(false, count, broken[0], $"The chain is broken at event {broken[0]}: it was changed, or the one before it was removed.");
    }
}
