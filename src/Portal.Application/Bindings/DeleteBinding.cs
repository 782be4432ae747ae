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

/// <summary>Revokes a binding: an unbind operation drops its credentials from the backend. Developers and owners.</summary>
public sealed class DeleteBindingHandler(IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, TimeProvider clock)
{
    public async Task<AcceptedChange<BindingView>> HandleAsync(Actor actor, Guid instanceId, Guid bindingId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (binding, instance) = await db.RequireBindingAsync(actor, instanceId, bindingId, TeamPermission.Deploy, ct);
        if (!Binding.CanMove(binding.State, BindingState.Deleting))
        {
            throw new ConflictException($"A binding that is {binding.State} cannot be deleted now.");
        }

        await db.RequireNoOperationRunningAsync(instanceId, ct);
        var now = clock.GetUtcNow();
        binding.MoveTo(BindingState.Deleting, now, "Waiting for a worker");
        var operation = new Operation
        {
            InstanceId = instanceId, BindingId = binding.Id, Kind = OperationKind.Unbind, RequestedBy = actor.UserId, CreatedAt = now,
        };
        db.Operations.Add(operation);
        db.Audit(actor, now, "binding.revoke-requested", "binding", binding.Id, instance.TeamId, $"{binding.AppName} on {instance.Name}");
        await db.SaveOrConflictAsync("The change collides with another one; reload and try again.", ct);
        await queue.EnqueueAsync(operation.Id);
        return new(binding.ToView(), operation.Id);
    }
}
