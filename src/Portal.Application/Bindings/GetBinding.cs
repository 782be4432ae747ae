using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Bindings;

/// <summary>One binding (without secrets): state, generation, rotation overlap and certificate expiry.</summary>
public sealed class GetBindingHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<BindingView> HandleAsync(Actor actor, Guid instanceId, Guid bindingId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (binding, instance) = await db.RequireBindingAsync(actor, instanceId, bindingId, TeamPermission.View, ct);
        return binding.ToView(await db.PlanLimitsAsync(instance, ct));
    }
}
