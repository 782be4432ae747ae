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
        if (!await ApprovalAccess.MaySeeAsync(db, actor, request, ct))
        {
            throw new NotFoundException("Approval request");
        }

        return await access.ToViewAsync(db, actor, request, ct);
    }
}
