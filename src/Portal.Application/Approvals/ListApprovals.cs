using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;
using Portal.Domain.Approvals;

namespace Portal.Application.Approvals;

/// <summary>
/// The inbox: pending requests the actor may decide now, or (<c>mine</c>) the actor's own requests.
/// </summary>
public sealed class ListApprovalsHandler(IDbContextFactory<PortalDbContext> dbFactory, ApprovalAccess access)
{
    public async Task<IReadOnlyList<ApprovalView>> HandleAsync(Actor actor, bool mine = false, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var requests = await db.ApprovalRequests.AsNoTracking().Include(r => r.Decisions)
            .Where(r => mine ? r.RequestedBy == actor.UserId : r.Status == RequestStatus.Pending)
            .OrderByDescending(r => r.CreatedAt).Take(200).ToListAsync(ct);
        var views = new List<ApprovalView>();
        foreach (var request in requests)
        {
            // Decide who sees what first: the full view (facts, quota use) is built only for the requests shown.
            if (mine || await ApprovalAccess.CanDecideAsync(db, actor, request, ct))
            {
                views.Add(await access.ToViewAsync(db, actor, request, ct));
            }
        }

        return views;
    }
}
