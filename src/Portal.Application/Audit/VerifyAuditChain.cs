using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;

namespace Portal.Application.Audit;

public sealed record AuditChainReport(bool Intact, long Events, long? FirstBrokenSequence, string Message);

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
