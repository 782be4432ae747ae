using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Bindings;
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

public sealed record ListInstances(
    int Page = 0, int PageSize = 25, string? SortBy = null, bool Descending = true, Guid? TeamId = null, string? Search = null,
    bool IncludeDeleted = false);

/// <summary>Instances of the actor's teams, paged and sorted in SQL.</summary>
public sealed class ListInstancesHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<Page<InstanceSummary>> HandleAsync(Actor actor, ListInstances query, CancellationToken ct = default)
    {
        var pageSize = Math.Clamp(query.PageSize, 1, 200);
        var page = Math.Max(query.Page, 0);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var instances = db.Instances.AsNoTracking().VisibleTo(db, actor, i => i.TeamId);
        if (!query.IncludeDeleted)
        {
            instances = instances.Live();
        }

        if (query.TeamId is { } teamId)
        {
            instances = instances.Where(i => i.TeamId == teamId);
        }

        if (!string.IsNullOrWhiteSpace(query.Search))
        {
            var pattern = "%" + query.Search.Trim().Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%";
            instances = instances.Where(i => EF.Functions.ILike(i.Name, pattern));
        }

        var rows = db.Rows(instances);
        rows = (query.SortBy?.ToLowerInvariant(), query.Descending) switch
        {
            ("name", false) => rows.OrderBy(r => r.Name),
            ("name", true) => rows.OrderByDescending(r => r.Name),
            ("team" or "teamname", false) => rows.OrderBy(r => r.TeamName).ThenBy(r => r.Name),
            ("team" or "teamname", true) => rows.OrderByDescending(r => r.TeamName).ThenBy(r => r.Name),
            ("state", false) => rows.OrderBy(r => r.State).ThenBy(r => r.Name),
            ("state", true) => rows.OrderByDescending(r => r.State).ThenBy(r => r.Name),
            ("offering" or "offeringname", false) => rows.OrderBy(r => r.OfferingName).ThenBy(r => r.Name),
            ("offering" or "offeringname", true) => rows.OrderByDescending(r => r.OfferingName).ThenBy(r => r.Name),
            (_, false) => rows.OrderBy(r => r.CreatedAt),
            (_, true) => rows.OrderByDescending(r => r.CreatedAt),
        };
        var total = await rows.CountAsync(ct);
        var items = await rows.Skip(page * pageSize).Take(pageSize).Select(InstanceQueries.ToSummary).ToListAsync(ct);
        return new Page<InstanceSummary>(items, total, page, pageSize);
    }
}

/// <summary>One instance with its bindings and its recent operations and their progress lines.</summary>
public sealed class GetInstanceHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<InstanceDetails> HandleAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (_, role) = await db.RequireInstanceAsync(actor, instanceId, TeamPermission.View, ct);
        var summary = await db.Summaries(db.Instances.Where(i => i.Id == instanceId)).FirstAsync(ct);
        var bindings = await db.Bindings.AsNoTracking()
            .Where(b => b.InstanceId == instanceId && b.State != BindingState.Deleted)
            .OrderBy(b => b.CreatedAt)
            .ToListAsync(ct);
        var operations = await db.Operations.AsNoTracking()
            .Where(o => o.InstanceId == instanceId)
            .OrderByDescending(o => o.CreatedAt)
            .Take(20)
            .Include(o => o.Lines.OrderBy(l => l.Id))
            .AsSplitQuery()
            .ToListAsync(ct);
        var placement = await (from i in db.Instances
                               where i.Id == instanceId
                               join p in db.Plans on i.PlanId equals p.Id
                               join b in db.Backends on i.BackendId equals b.Id
                               select new { p.MaxLeaseDays, p.Limits, b.Site, i.Parameters, b.Kind }).FirstAsync(ct);
        return new InstanceDetails(
            summary,
            bindings.Select(b => Bindings.BindingMapping.ToView(b, placement.Limits)).ToList(),
            operations.Select(Operations.OperationMapping.ToView).ToList(),
            new InstancePermissions(role.Allows(TeamPermission.Deploy), role.Allows(TeamPermission.ReadSecrets), role.Allows(TeamPermission.ManageTeam)),
            placement.MaxLeaseDays, placement.Site, placement.Parameters, placement.Kind);
    }
}
