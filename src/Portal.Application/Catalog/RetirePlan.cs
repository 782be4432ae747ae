using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;

namespace Portal.Application.Catalog;

/// <summary>
/// Takes a plan out of the catalog (retire) or puts it back (reinstate). Instances on a retired plan keep it and
/// its limits; no new request or plan change can choose it. Platform admins only.
/// </summary>
public sealed class RetirePlanHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public Task<PlanView> RetireAsync(Actor actor, Guid offeringId, Guid planId, CancellationToken ct = default) =>
        SetAsync(actor, offeringId, planId, retire: true, ct);

    public Task<PlanView> ReinstateAsync(Actor actor, Guid offeringId, Guid planId, CancellationToken ct = default) =>
        SetAsync(actor, offeringId, planId, retire: false, ct);

    private async Task<PlanView> SetAsync(Actor actor, Guid offeringId, Guid planId, bool retire, CancellationToken ct)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offering = await db.Offerings.Include(o => o.Plans).FirstOrDefaultAsync(o => o.Id == offeringId, ct)
            ?? throw new NotFoundException("Offering");
        var plan = offering.Plans.FirstOrDefault(p => p.Id == planId) ?? throw new NotFoundException("Plan");
        if (plan.IsActive == !retire)
        {
            return plan.ToView();
        }

        if (retire && offering.Plans.Count(p => p.IsActive) == 1)
        {
            throw new ConflictException($"{plan.Key} is the last plan {offering.Name} offers; add another before retiring it.");
        }

        plan.IsActive = !retire;
        var live = await db.Instances.Live().CountAsync(i => i.PlanId == plan.Id, ct);
        db.Audit(actor, clock.GetUtcNow(), retire ? "offering.plan-retired" : "offering.plan-reinstated", "offering", offering.Id, null,
            retire ? $"{offering.Key}/{plan.Key}: out of the catalog; {live} live instance(s) keep it" : $"{offering.Key}/{plan.Key}: back in the catalog");
        await db.SaveChangesAsync(ct);
        return plan.ToView();
    }
}
