using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Operations;

namespace Portal.Application.Operations;

public static class OperationMapping
{
    /// <summary>The operation as the actor may read it: the driver's own error words for platform admins only.</summary>
    public static OperationView ToView(Operation o, Actor actor) => new(
        o.Id, o.InstanceId, o.BindingId, o.Kind.ToString(), o.State.ToString(), o.Attempts, OperationErrors.ErrorFor(o, actor),
        o.CreatedAt, o.StartedAt, o.FinishedAt, o.Lines.Select(l => new OperationLineView(l.At, l.Message)).ToList());

    /// <summary>One instance never has two operations at once: a new one waits until the last has finished.</summary>
    public static async Task RequireNoOperationRunningAsync(this PortalDbContext db, Guid instanceId, CancellationToken ct)
    {
        if (await db.Operations.AnyAsync(o => o.InstanceId == instanceId &&
                                              (o.State == OperationState.Queued || o.State == OperationState.Running), ct))
        {
            throw new ConflictException("Another operation on this instance is still running; try again when it has finished.");
        }
    }
}
