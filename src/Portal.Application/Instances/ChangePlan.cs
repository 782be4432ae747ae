using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Approvals;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Operations;
using Portal.Application.Quotas;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Approvals;
using Portal.Domain.Instances;
using Portal.Domain.Operations;

namespace Portal.Application.Instances;

public sealed record ChangePlan(string Plan);

/// <summary>
/// Moves a Ready instance to another plan of its offering: through the approval policy, within the team's
/// cost quota, then an update operation applies the new limits on the backend. Developers and owners.
/// </summary>
public sealed class ChangePlanHandler(IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, QuotaService quotas, TimeProvider clock)
{
    public async Task<AcceptedChange<InstanceSummary>> HandleAsync(Actor actor, Guid instanceId, ChangePlan request, CancellationToken ct = default)
    {
        InputRules.Check(request);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (instance, _) = await db.RequireInstanceAsync(actor, instanceId, TeamPermission.Deploy, ct);
        if (!instance.State.AcceptsBindings())
        {
            throw new ConflictException($"The plan of a Ready instance can be changed; this one is {instance.State}.");
        }

        var current = await db.Plans.AsNoTracking().FirstAsync(p => p.Id == instance.PlanId, ct);
        var target = await db.Plans.AsNoTracking().FirstOrDefaultAsync(p => p.OfferingId == instance.OfferingId && p.Key == request.Plan && p.IsActive, ct)
            ?? throw ValidationException.For("plan", $"The offering has no plan '{request.Plan}'.");
        if (target.Id == current.Id)
        {
            throw ValidationException.For("plan", $"The instance is on plan '{target.Key}' already.");
        }

        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await quotas.EnsureCostRoomAsync(db, instance.TeamId, target.MonthlyCost - current.MonthlyCost, ct);
        var now = clock.GetUtcNow();
        db.Audit(actor, now, "instance.plan-change-requested", "instance", instance.Id, instance.TeamId, $"{instance.Name}: {current.Key} → {target.Key}");
        var approval = await db.GateAsync(actor, instance, ApprovalOperation.ChangePlan, target, now, ct);
        if (approval is not null)
        {
            await db.SaveOrConflictAsync("The instance changed at the same moment; reload and try again.", ct);
            await transaction.CommitAsync(ct);
            return new(await db.Summaries(db.Instances.Where(i => i.Id == instanceId)).FirstAsync(ct), null, approval.Id);
        }

        await db.RequireNoOperationRunningAsync(instance.Id, ct);
        instance.PlanId = target.Id;
        instance.MoveTo(InstanceState.Updating, now, $"Changing to plan {target.Name}");
        var operation = new Operation { InstanceId = instance.Id, Kind = OperationKind.Update, RequestedBy = actor.UserId, CreatedAt = now };
        db.Operations.Add(operation);
        await db.SaveOrConflictAsync("The instance changed at the same moment; reload and try again.", ct);
        await transaction.CommitAsync(ct);
        // Only after the commit: the job must find its operation.
        await queue.EnqueueAsync(operation.Id);
        return new(await db.Summaries(db.Instances.Where(i => i.Id == instanceId)).FirstAsync(ct), operation.Id);
    }
}
