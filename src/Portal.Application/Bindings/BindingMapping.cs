using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Bindings;
using Portal.Domain.Instances;

namespace Portal.Application.Bindings;

internal static class BindingMapping
{
    /// <param name="planLimits">The instance's plan limits, for the next scheduled rotation; omitted, none is shown.</param>
    public static BindingView ToView(this Binding b, IReadOnlyDictionary<string, int>? planLimits = null) => new(
        b.Id, b.InstanceId, b.AppName, b.State.ToString(), b.StatusMessage, b.CreatedAt,
        b.ClientCertificate, b.Generation, b.RetiringGeneration, b.RetireAt, b.CertificateExpiresAt, b.RotatedAt,
        b.State == BindingState.Ready ? ScheduledRotation.NextAt(b, planLimits) : null);

    public static Task<Dictionary<string, int>> PlanLimitsAsync(this PortalDbContext db, Instance instance, CancellationToken ct) =>
        db.Plans.AsNoTracking().Where(p => p.Id == instance.PlanId).Select(p => p.Limits).FirstAsync(ct);

    public static async Task<(Binding Binding, Instance Instance)> RequireBindingAsync(
        this PortalDbContext db, Actor actor, Guid instanceId, Guid bindingId, TeamPermission permission, CancellationToken ct)
    {
        var (instance, _) = await db.RequireInstanceAsync(actor, instanceId, permission, ct);
        var binding = await db.Bindings.FirstOrDefaultAsync(b => b.Id == bindingId && b.InstanceId == instanceId && b.State != BindingState.Deleted, ct)
            ?? throw new NotFoundException("Binding");
        return (binding, instance);
    }
}
