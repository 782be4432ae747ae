using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Instances;
using Portal.Data;
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
        var events = AuditQueries.Filter(db, actor, query);
        var total = await events.CountAsync(ct);
        var items = await events.OrderByDescending(e => e.Sequence).Skip(Math.Max(query.Page, 0) * pageSize).Take(pageSize)
            .Select(AuditQueries.ToView).ToListAsync(ct);
        return new Page<AuditEventView>(items, total, query.Page, pageSize);
    }
}
