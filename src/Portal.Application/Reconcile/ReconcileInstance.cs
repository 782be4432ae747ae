using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Reconcile;

/// <summary>
/// Compares an instance with its backend now, instead of waiting for the next reconcile run: the instance page's "Check
/// for drift". Developers and owners of the team.
/// </summary>
public sealed class ReconcileInstanceHandler(IDbContextFactory<PortalDbContext> dbFactory, ReconcileRun run)
{
    public async Task<ReconcileOutcome> HandleAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            await db.RequireInstanceAsync(actor, instanceId, TeamPermission.Deploy, ct);
        }

        return await run.RunAsync(instanceId, actor, ct);
    }
}
