using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Instances;

namespace Portal.Application.Instances;

/// <summary>Instance rows joined with the names people read.</summary>
internal static class InstanceQueries
{
    public static IQueryable<InstanceSummary> Summaries(this PortalDbContext db, IQueryable<Instance> instances) =>
        db.Rows(instances).Select(ToSummary);

    /// <summary>Rows as a member-initialised type, so they can still be sorted in SQL.</summary>
    public static IQueryable<InstanceRow> Rows(this PortalDbContext db, IQueryable<Instance> instances) =>
        from i in instances
        join t in db.Teams on i.TeamId equals t.Id
        join o in db.Offerings on i.OfferingId equals o.Id
        join p in db.Plans on i.PlanId equals p.Id
        select new InstanceRow
        {
            Id = i.Id, Name = i.Name, TeamId = i.TeamId, TeamName = t.Name, OfferingKey = o.Key, OfferingName = o.Name,
            PlanKey = p.Key, PlanName = p.Name, State = i.State, StatusMessage = i.StatusMessage, CreatedAt = i.CreatedAt, UpdatedAt = i.UpdatedAt,
            ExpiresAt = i.ExpiresAt,
        };

    public static readonly System.Linq.Expressions.Expression<Func<InstanceRow, InstanceSummary>> ToSummary = r => new InstanceSummary(
        r.Id, r.Name, r.TeamId, r.TeamName, r.OfferingKey, r.OfferingName, r.PlanKey, r.PlanName, r.State.ToString(), r.StatusMessage,
        r.CreatedAt, r.UpdatedAt, r.ExpiresAt);

    /// <summary>
    /// Instances that still exist: all but deleted, rejected and expired ones. They hold their name, count
    /// against quotas and occupy a place on their backend.
    /// </summary>
    public static IQueryable<Instance> Live(this IQueryable<Instance> instances) =>
        instances.Where(i => i.State != InstanceState.Deleted && i.State != InstanceState.Rejected && i.State != InstanceState.Expired);

    /// <summary>Loads an instance the actor may act on, or throws "not found" (also for other teams' instances).</summary>
    public static async Task<(Instance Instance, TeamRole Role)> RequireInstanceAsync(
        this PortalDbContext db, Actor actor, Guid instanceId, TeamPermission permission, CancellationToken ct)
    {
        var instance = await db.Instances.FirstOrDefaultAsync(i => i.Id == instanceId, ct) ?? throw new NotFoundException("Instance");
        var role = await db.RequireAsync(actor, instance.TeamId, permission, "Instance", ct);
        return (instance, role);
    }
}

internal sealed class InstanceRow
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public Guid TeamId { get; init; }
    public string TeamName { get; init; } = "";
    public string OfferingKey { get; init; } = "";
    public string OfferingName { get; init; } = "";
    public string PlanKey { get; init; } = "";
    public string PlanName { get; init; } = "";
    public InstanceState State { get; init; }
    public string? StatusMessage { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
}
