using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Notifications;
using Portal.Data;
using Portal.Domain.Audit;
using Portal.Domain.Bindings;
using Portal.Domain.Instances;
using Portal.Domain.Operations;

namespace Portal.Application.Operations;

/// <summary>What an operation's end in failure changes, whether its job gave up or a platform admin ended it.</summary>
internal static class OperationFailure
{
    /// <summary>
    /// Marks the operation Failed and moves what it worked on to Failed (retryable by its team); a rotation or a
    /// retirement leaves the binding Ready, since its current credentials still work. Tells the requester and audits.
    /// The caller saves. Returns the instance, for <see cref="PublishAsync"/>. <paramref name="error"/> is kept on the
    /// operation for platform admins; everything the team reads (state message, notification, audit) says
    /// <paramref name="teamMessage"/> (see <see cref="OperationErrors"/>).
    /// </summary>
    public static async Task<Instance> RecordAsync(
        PortalDbContext db, Operation operation, string error, string teamMessage, Actor? actor, DateTimeOffset now, CancellationToken ct)
    {
        operation.State = OperationState.Failed;
        operation.FinishedAt = now;
        operation.Error = error.Length > 4000 ? error[..4000] : error;
        var message = $"{operation.Kind} failed: {teamMessage}";
        var instance = await db.Instances.FirstAsync(i => i.Id == operation.InstanceId, ct);
        if (operation.Kind is OperationKind.Rotate or OperationKind.Retire)
        {
            // The current credentials still work: the binding stays Ready; the team is told below.
        }
        else if (operation.BindingId is { } bindingId)
        {
            var binding = await db.Bindings.FirstAsync(b => b.Id == bindingId, ct);
            if (binding.State != BindingState.Failed)
            {
                binding.MoveTo(BindingState.Failed, now, message);
            }
        }
        else if (instance.State != InstanceState.Failed)
        {
            instance.MoveTo(InstanceState.Failed, now, message);
        }

        db.Notification(operation.RequestedBy, now, $"{operation.Kind} of {instance.Name} failed", teamMessage, $"/instances/{instance.Id}");
        db.Audit(actor, now, $"{operation.Kind.ToString().ToLowerInvariant()}.failed", operation.BindingId is null ? "instance" : "binding",
            operation.BindingId ?? instance.Id, instance.TeamId, $"{instance.Name}: {teamMessage}", AuditOutcomes.Failure);
        return instance;
    }

    /// <summary>The team's webhook: the team's message, never the driver's own words.</summary>
    public static Task PublishAsync(Webhooks.WebhookPublisher webhooks, Operation operation, Instance instance, string teamMessage, CancellationToken ct) =>
        webhooks.PublishAsync(Portal.Domain.Webhooks.WebhookEvents.InstanceFailed, instance.TeamId,
            new { instanceId = instance.Id, instance.Name, operation = operation.Kind.ToString(), bindingId = operation.BindingId, operationId = operation.Id, error = teamMessage }, ct);
}
