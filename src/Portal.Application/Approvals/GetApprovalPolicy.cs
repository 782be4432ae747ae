using Microsoft.EntityFrameworkCore;
using Portal.Data;

namespace Portal.Application.Approvals;

public sealed class GetApprovalPolicyHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    /// <summary>The rules in order (first match wins). Everyone signed in may read the policy.</summary>
    public async Task<IReadOnlyList<ApprovalRuleView>> HandleAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rules = await db.ApprovalRules.AsNoTracking().OrderBy(r => r.Order).ToListAsync(ct);
        return rules.Select(r => new ApprovalRuleView(
            r.Name, r.Offering, r.Plan, r.TeamId, r.Environment, r.MinMonthlyCost, r.Operation, r.AutoApprove, r.Stages)).ToList();
    }
}
