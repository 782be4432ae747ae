using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Operations;

namespace Portal.Application.Operations;

/// <param name="OlderThanMinutes">Unfinished operations requested at least this long ago (default 10).</param>
public sealed record ListStuckOperations([Range(0, 60 * 24 * 30)] int? OlderThanMinutes);

/// <summary>An operation that has not finished, with where it stands, for the platform team.</summary>
public sealed record StuckOperationView(
    Guid Id, Guid InstanceId, string InstanceName, string TeamName, Guid? BindingId, string Kind, string State, int Attempts,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, string? JobId, string BackendName, string? Error, string? LastLine,
    DateTimeOffset? BackendUnreachableSince);

/// <summary>Unfinished operations older than N minutes, oldest first: what an operator may retry or fail. Platform admins.</summary>
public sealed class ListStuckOperationsHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public const int DefaultMinutes = 10;

    public async Task<IReadOnlyList<StuckOperationView>> HandleAsync(Actor actor, ListStuckOperations query, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        var minutes = query.OlderThanMinutes ?? DefaultMinutes;
        new Validator()
            .Input(query)
            .Require(minutes is >= 0 and <= 60 * 24 * 30, "olderThanMinutes", "Give 0 to 43200 minutes (30 days).")
            .ThrowIfInvalid();
        var before = clock.GetUtcNow() - TimeSpan.FromMinutes(minutes);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await (from o in db.Operations.AsNoTracking()
                      where (o.State == OperationState.Queued || o.State == OperationState.Running) && o.CreatedAt <= before
                      join i in db.Instances on o.InstanceId equals i.Id
                      join t in db.Teams on i.TeamId equals t.Id
                      join b in db.Backends on i.BackendId equals b.Id
                      orderby o.CreatedAt
                      select new StuckOperationView(
                          o.Id, i.Id, i.Name, t.Name, o.BindingId, o.Kind.ToString(), o.State.ToString(), o.Attempts, o.CreatedAt, o.StartedAt,
                          o.JobId, b.Name, o.Error,
                          o.Lines.OrderByDescending(l => l.Id).Select(l => l.Message).FirstOrDefault(),
                          o.BackendUnreachableSince))
            .Take(500)
            .ToListAsync(ct);
    }
}
