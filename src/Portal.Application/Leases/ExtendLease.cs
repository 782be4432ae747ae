using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Approvals;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Approvals;
using Portal.Domain.Instances;

namespace Portal.Application.Leases;

/// <param name="Until">The new end of the lease; at most the plan's maximum lease from now.</param>
public sealed record ExtendLease(DateTimeOffset Until);

/// <summary>Moves the end of an instance's lease, within its plan's maximum. Team owners.</summary>
public sealed class ExtendLeaseHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    /// <summary>Extends at once within the plan's maximum; beyond it, makes a request that the approval policy gates.</summary>
    public async Task<AcceptedChange<InstanceSummary>> HandleAsync(Actor actor, Guid instanceId, ExtendLease request, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (instance, _) = await db.RequireInstanceAsync(actor, instanceId, TeamPermission.ManageTeam, ct);
        var maxDays = await db.Plans.Where(p => p.Id == instance.PlanId).Select(p => p.MaxLeaseDays).FirstAsync(ct);
        if (instance.ExpiresAt is null || maxDays is not { } days)
        {
            throw new ConflictException("This instance has no lease to extend: its plan does not expire.");
        }

        if (!instance.State.AcceptsBindings())
        {
            throw new ConflictException($"Only a Ready instance's lease can be extended; this one is {instance.State}.");
        }

        var now = clock.GetUtcNow();
        if (request.Until <= now)
        {
            throw ValidationException.For("until", "The new end of the lease must lie in the future.");
        }

        var previous = instance.ExpiresAt;
        if (request.Until > now.AddDays(days))
        {
            var plan = await db.Plans.AsNoTracking().FirstAsync(p => p.Id == instance.PlanId, ct);
            var approval = await db.GateAsync(actor, instance, ApprovalOperation.ExtendLease, plan, now, ct, request.Until, refuseWithoutRule: true);
            if (approval is not null)
            {
                db.Audit(actor, now, "instance.lease-extension-requested", "instance", instance.Id, instance.TeamId,
                    $"{instance.Name}: to {request.Until:yyyy-MM-dd HH:mm} UTC, beyond the plan's {days} days");
                await db.SaveOrConflictAsync("The instance changed at the same moment; reload and try again.", ct);
                return new(await db.Summaries(db.Instances.Where(i => i.Id == instanceId)).FirstAsync(ct), null, approval.Id);
            }

            instance.SetApprovedLease(request.Until, now);
        }
        else
        {
            instance.ExtendLease(request.Until, days, now);
        }

        db.Audit(actor, now, "instance.lease-extended", "instance", instance.Id, instance.TeamId,
            $"{instance.Name}: {previous:yyyy-MM-dd HH:mm} → {request.Until:yyyy-MM-dd HH:mm} UTC");
        await db.SaveOrConflictAsync("The instance changed at the same moment; reload and try again.", ct);
        return new(await db.Summaries(db.Instances.Where(i => i.Id == instanceId)).FirstAsync(ct), null);
    }
}
