using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Bindings;

namespace Portal.Application.Bindings;

public sealed class ListBindingsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<IReadOnlyList<BindingView>> HandleAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (instance, _) = await db.RequireInstanceAsync(actor, instanceId, TeamPermission.View, ct);
        var bindings = await db.Bindings.AsNoTracking()
            .Where(b => b.InstanceId == instanceId && b.State != BindingState.Deleted)
            .OrderBy(b => b.CreatedAt).ToListAsync(ct);
        var limits = await db.PlanLimitsAsync(instance, ct);
        return bindings.Select(b => b.ToView(limits)).ToList();
    }
}
