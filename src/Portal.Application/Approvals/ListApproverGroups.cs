using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;

namespace Portal.Application.Approvals;

/// <summary>Named approver groups for policy stages, members by e-mail. Platform admins and approvers only.</summary>
public sealed class ListApproverGroupsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<IReadOnlyList<ApproverGroupView>> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await ApprovalAccess.RequireMayReadPolicyAsync(db, actor, ct);
        var groups = await db.ApproverGroups.AsNoTracking().OrderBy(g => g.Name).ToListAsync(ct);
        var ids = groups.SelectMany(g => g.Members).Distinct().ToList();
        var names = await db.Users.Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Email ?? u.UserName ?? u.Id.ToString(), ct);
        return groups.Select(g => new ApproverGroupView(g.Name, g.Description, g.Members.Select(m => names.GetValueOrDefault(m, m.ToString())).ToList())).ToList();
    }
}
