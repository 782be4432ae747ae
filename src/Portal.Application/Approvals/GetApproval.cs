using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;

namespace Portal.Application.Approvals;

/// <summary>One request, for its team's members, the approvers who may decide it, and platform admins.</summary>
public sealed class GetApprovalHandler(IDbContextFactory<PortalDbContext> dbFactory, ApprovalAccess access)
{
    public async Task<ApprovalView> HandleAsync(Actor actor, Guid requestId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var request = await db.ApprovalRequests.AsNoTracking().Include(r => r.Decisions).FirstOrDefaultAsync(r => r.Id == requestId, ct)
            ?? throw new NotFoundException("Approval request");
        var view = await access.ToViewAsync(db, actor, request, ct);
        var member = await db.TeamMembers.AnyAsync(m => m.TeamId == request.TeamId && m.UserId == actor.UserId, ct);
        if (!actor.IsPlatformAdmin && !member && !view.CanDecide && !request.Decisions.Any(d => d.ApproverId == actor.UserId))
        {
            throw new NotFoundException("Approval request");
        }

        return view;
    }
}
