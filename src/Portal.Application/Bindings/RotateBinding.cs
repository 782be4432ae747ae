using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Bindings;
using Portal.Domain.Operations;

namespace Portal.Application.Bindings;

/// <param name="OverlapMinutes">How long the current credentials keep working beside the new ones; 0 ends them at once.</param>
public sealed record RotateBinding([Range(0, RotationOverlap.MaxMinutes)] int? OverlapMinutes);

/// <summary>
/// Rotates a binding: a rotate operation makes the next generation of credentials (new password, new certificate)
/// while the current one keeps working for the overlap the owner chose; then it stops. Developers and owners.
/// </summary>
public sealed class RotateBindingHandler(IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, TimeProvider clock)
{
    public async Task<AcceptedChange<BindingView>> HandleAsync(
        Actor actor, Guid instanceId, Guid bindingId, RotateBinding request, CancellationToken ct = default)
    {
        var overlap = request.OverlapMinutes ?? 0;
        new Validator()
            .Input(request)
            .Require(overlap is >= 0 and <= RotationOverlap.MaxMinutes, "overlapMinutes",
                $"The overlap is 0 (the old credentials stop at once) to {RotationOverlap.MaxMinutes} minutes (7 days).")
            .ThrowIfInvalid();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (binding, instance) = await db.RequireBindingAsync(actor, instanceId, bindingId, TeamPermission.Deploy, ct);
        if (binding.State != BindingState.Ready)
        {
            throw new ConflictException($"Only a Ready binding can be rotated; this one is {binding.State}.");
        }

        await db.RequireNoOperationRunningAsync(instanceId, ct);
        var now = clock.GetUtcNow();
        var operation = new Operation
        {
            InstanceId = instanceId, BindingId = binding.Id, Kind = OperationKind.Rotate, RequestedBy = actor.UserId, CreatedAt = now,
            Overlap = TimeSpan.FromMinutes(overlap), TargetGeneration = binding.Generation + 1,
        };
        db.Operations.Add(operation);
        db.Audit(actor, now, "binding.rotation-requested", "binding", binding.Id, instance.TeamId,
            $"{binding.AppName} on {instance.Name}, overlap {overlap} min");
        await db.SaveOrConflictAsync("The change collides with another one; reload and try again.", ct);
        await queue.EnqueueAsync(operation.Id);
        return new(binding.ToView(), operation.Id);
    }
}
