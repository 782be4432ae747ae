using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;

namespace Portal.Application.Approvals;

public sealed class GetApprovalPolicyHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    /// <summary>The rules in order (first match wins). Platform admins and approvers only.</summary>
    public async Task<IReadOnlyList<ApprovalRuleView>> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await ApprovalAccess.RequireMayReadPolicyAsync(db, actor, ct);
        var rules = await db.ApprovalRules.AsNoTracking().OrderBy(r => r.Order).ToListAsync(ct);
        return rules.Select(r => new ApprovalRuleView(
            r.Name, r.Offering, r.Plan, r.TeamId, r.Environment, r.MinMonthlyCost, r.Operation, r.AutoApprove, r.Stages)).ToList();
    }
}
