using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Approvals;

namespace Portal.Application.Approvals;

/// <summary>Deletes an approver group the approval policy does not use. Platform admins only.</summary>
public sealed class DeleteApproverGroupHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task HandleAsync(Actor actor, string name, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator().Text(name, "name").ThrowIfInvalid();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var group = await db.ApproverGroups.FirstOrDefaultAsync(g => g.Name == name, ct) ?? throw new NotFoundException("Approver group");
        var rules = await db.ApprovalRules.AsNoTracking().ToListAsync(ct);
        if (rules.Any(r => r.Stages.Any(s => s.Approvers == ApproverKind.Group && s.Group == name)))
        {
            throw new ConflictException($"The approval policy uses the group '{name}'; change the policy first.");
        }

        db.ApproverGroups.Remove(group);
        db.Audit(actor, clock.GetUtcNow(), "approver-group.deleted", "approver-group", name, null, null);
        await db.SaveChangesAsync(ct);
    }
}
