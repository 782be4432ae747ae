using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;

namespace Portal.Application.Instances;

public sealed record ListInstances(
    [Range(0, 1_000_000)] int Page = 0, [Range(1, 200)] int PageSize = 25, string? SortBy = null, bool Descending = true, Guid? TeamId = null, string? Search = null,
    bool IncludeDeleted = false);

/// <summary>Instances of the actor's teams, paged and sorted in SQL.</summary>
public sealed class ListInstancesHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<Page<InstanceSummary>> HandleAsync(Actor actor, ListInstances query, CancellationToken ct = default)
    {
        InputRules.Check(query);
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
