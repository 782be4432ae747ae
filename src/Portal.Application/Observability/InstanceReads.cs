using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Bindings;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Bindings;
using Portal.Domain.Instances;
using Portal.Provisioning;

namespace Portal.Application.Observability;

/// <summary>
/// Reads of what a log stream or monitoring instance holds, for the instance page (team members who may
/// view it) and for apps with a binding's read token. Either way only that instance's data: the driver
/// builds every file path and selector from the instance id.
/// </summary>
public sealed partial class InstanceReads(IDbContextFactory<PortalDbContext> dbFactory, Backends.BackendEndpoints endpoints, DriverRegistry drivers)
{
    public const int MaxLogEntries = 1000;
    public const int MaxPoints = 2000;

    /// <summary>The instance as a team member may read it.</summary>
    public async Task<(TDriver Driver, InstanceContext Instance)> ForMemberAsync<TDriver>(Actor actor, Guid instanceId, CancellationToken ct)
        where TDriver : class, IServiceDriver
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireInstanceAsync(actor, instanceId, TeamPermission.View, ct);
        return await LoadAsync<TDriver>(db, instanceId, ct);
    }

    /// <summary>The instance of a binding whose read token is presented; anything else is "not found".</summary>
    public async Task<(TDriver Driver, InstanceContext Instance)> ForReadTokenAsync<TDriver>(Guid bindingId, string? token, CancellationToken ct)
        where TDriver : class, IServiceDriver
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var binding = await db.Bindings.AsNoTracking().FirstOrDefaultAsync(b => b.Id == bindingId, ct);
        // One answer for a wrong token, an unknown binding and a deleted one: nothing to probe.
        if (binding is null || binding.State != BindingState.Ready || !(ReadTokens.Matches(token, binding.ReadTokenHash) || ReadTokens.Matches(token, binding.RetiringReadTokenHash)))
        {
            throw new UnauthorizedException("The read token is not valid for this binding.");
        }

        return await LoadAsync<TDriver>(db, binding.InstanceId, ct);
    }

    private async Task<(TDriver, InstanceContext)> LoadAsync<TDriver>(PortalDbContext db, Guid instanceId, CancellationToken ct)
        where TDriver : class, IServiceDriver
    {
        var row = await (from i in db.Instances.AsNoTracking()
                         where i.Id == instanceId
                         join p in db.Plans on i.PlanId equals p.Id
                         join b in db.Backends on i.BackendId equals b.Id
                         select new { Instance = i, p.Limits, Backend = b }).FirstAsync(ct);
        if (drivers.Find(row.Backend.Kind) is not TDriver driver)
        {
            throw new ConflictException("This kind of instance has no such data to read.");
        }

        if (row.Instance.State is not (InstanceState.Ready or InstanceState.Degraded or InstanceState.Drifted or InstanceState.Updating))
        {
            throw new ConflictException($"The instance is {row.Instance.State}; its data can be read when it is Ready.");
        }

        var context = new InstanceContext(row.Instance.Id, await endpoints.ForAsync(row.Backend, ct), row.Limits, new Progress<string>())
        {
            Parameters = row.Instance.Parameters,
        };
        return (driver, context);
    }

    /// <summary>Checks and bounds a log query from people or apps.</summary>
    public static LogQuery ValidLogQuery(string? contains, DateTimeOffset? since, int? limit)
    {
        new Validator()
            .Text(contains, "contains", 200)
            .Require(limit is null or (> 0 and <= MaxLogEntries), "limit", $"The limit is 1 to {MaxLogEntries}.")
            .ThrowIfInvalid();
        return new LogQuery(string.IsNullOrWhiteSpace(contains) ? null : contains, since, limit ?? 200);
    }

    /// <summary>Checks and bounds a range query: a metric name, a window of at most 7 days, at most <see cref="MaxPoints"/> points.</summary>
    public static MetricQuery ValidMetricQuery(string? metric, DateTimeOffset? start, DateTimeOffset? end, int? stepSeconds, bool rate, DateTimeOffset now)
    {
        var to = end ?? now;
        var from = start ?? to.AddHours(-1);
        var step = TimeSpan.FromSeconds(stepSeconds ?? Math.Max(1, (int)Math.Ceiling((to - from).TotalSeconds / 240)));
        new Validator()
            .Text(metric, "metric")
            .Require(metric is not null && MetricName().IsMatch(metric), "metric", "Name one metric, e.g. http_requests_total.")
            .Require(from < to && to - from <= TimeSpan.FromDays(7), "start", "The window runs forwards and spans at most 7 days.")
            .Require(step >= TimeSpan.FromSeconds(1) && (to - from) / step <= MaxPoints, "step", $"Use a step that gives at most {MaxPoints} points.")
            .ThrowIfInvalid();
        return new MetricQuery(metric!, from, to, step, rate);
    }

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$")]
    private static partial Regex MetricName();
}
