using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;
using Portal.Domain.Approvals;

namespace Portal.Application.Approvals;

/// <summary>How many requests wait for the actor to decide them, for the navigation badge (no views built).</summary>
public sealed class CountWaitingApprovalsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<int> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var pending = await db.ApprovalRequests.AsNoTracking().Include(r => r.Decisions)
            .Where(r => r.Status == RequestStatus.Pending).Take(200).ToListAsync(ct);
        var count = 0;
        foreach (var request in pending)
        {
            count += await ApprovalAccess.CanDecideAsync(db, actor, request, ct) ? 1 : 0;
        }

        return count;
    }
}
