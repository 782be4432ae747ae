using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;

namespace Portal.Application.Catalog;

/// <summary>
/// Deletes a plan no instance ever used (e.g. one added by mistake). A plan in use, or named in an instance's
/// history, can be retired but not deleted. Platform admins only.
/// </summary>
public sealed class DeletePlanHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task HandleAsync(Actor actor, Guid offeringId, Guid planId, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offering = await db.Offerings.Include(o => o.Plans).FirstOrDefaultAsync(o => o.Id == offeringId, ct)
            ?? throw new NotFoundException("Offering");
        var plan = offering.Plans.FirstOrDefault(p => p.Id == planId) ?? throw new NotFoundException("Plan");
        var live = await db.Instances.Live().CountAsync(i => i.PlanId == plan.Id, ct);
        if (live > 0)
        {
            throw new ConflictException($"{live} live instance(s) use the plan {plan.Key}; retire it to take it out of the catalog.");
        }

        var history = await db.Instances.CountAsync(i => i.PlanId == plan.Id, ct);
        if (history > 0)
        {
            throw new ConflictException(
                $"The plan {plan.Key} is named in the history of {history} deleted instance(s), so it stays on record; retire it to take it out of the catalog.");
        }

        if (plan.IsActive && offering.Plans.Count(p => p.IsActive) == 1)
        {
            throw new ConflictException($"{plan.Key} is the last plan {offering.Name} offers; add another before deleting it.");
        }

        db.Plans.Remove(plan);
        db.Audit(actor, clock.GetUtcNow(), "offering.plan-deleted", "offering", offering.Id, null, $"{offering.Key}/{plan.Key}");
        await db.SaveRemovalOrConflictAsync($"An instance was just requested on the plan {plan.Key}; retire it instead.", ct);
    }
}
