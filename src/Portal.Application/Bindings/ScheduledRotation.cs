using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Portal.Application.Common;
using Portal.Application.Audit;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Bindings;
using Portal.Domain.Operations;
using Portal.Provisioning;

namespace Portal.Application.Bindings;

/// <summary>
/// A plan may rotate its bindings' credentials on a schedule (<c>rotateEveryDays</c>), with an overlap in which the old
/// credentials still work (<c>rotationOverlapMinutes</c>, a day by default) so apps re-read them without downtime.
/// </summary>
public static class ScheduledRotation
{
    public const string EveryDaysLimit = "rotateEveryDays";
    public const string OverlapLimit = "rotationOverlapMinutes";
    public const int DefaultOverlapMinutes = 24 * 60;

    public static readonly DriverField[] PlanLimits =
    [
        new(EveryDaysLimit, "Rotate credentials every (days)",
            "Bindings get new credentials this often, by a scheduled rotation. 0 or unset: only when their owners rotate them."),
        new(OverlapLimit, "Overlap of scheduled rotations (minutes)",
            "How long the previous credentials keep working after a scheduled rotation. Default 1440 (a day); at most 10080."),
    ];

    /// <summary>When the binding is next rotated by its plan's schedule; null when the plan has none.</summary>
    public static DateTimeOffset? NextAt(Binding binding, IReadOnlyDictionary<string, int>? limits) =>
        limits is not null && limits.TryGetValue(EveryDaysLimit, out var days) && days > 0
            ? (binding.RotatedAt ?? binding.CreatedAt).AddDays(days)
            : null;

    /// <summary>The plan's overlap (plans are refused above <see cref="RotationOverlap.MaxMinutes"/>; older ones are capped).</summary>
    public static TimeSpan OverlapOf(IReadOnlyDictionary<string, int> limits) =>
        TimeSpan.FromMinutes(Math.Min(
            limits.TryGetValue(OverlapLimit, out var minutes) ? minutes : DefaultOverlapMinutes, RotationOverlap.MaxMinutes));
}

/// <summary>
/// Recurring: queues a rotation for each Ready binding whose plan's schedule says it is due. A binding whose instance is
/// busy, or whose previous rotation still overlaps, is taken on a later run.
/// </summary>
public sealed class ScheduledRotationJob(
    IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, TimeProvider clock, ILogger<ScheduledRotationJob> logger)
{
    public const string RecurringJobId = "binding-scheduled-rotation";

    /// <summary>Returns how many rotations it queued.</summary>
    public async Task<int> RunAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow();
        var candidates = await (from b in db.Bindings.AsNoTracking()
                                join i in db.Instances on b.InstanceId equals i.Id
                                join p in db.Plans on i.PlanId equals p.Id
                                where b.State == BindingState.Ready && b.RetiringGeneration == null
                                select new { Binding = b, i.TeamId, InstanceName = i.Name, p.Limits }).ToListAsync(ct);
        var queued = 0;
        foreach (var candidate in candidates.Where(c => ScheduledRotation.NextAt(c.Binding, c.Limits) <= now))
        {
            var binding = candidate.Binding;
            if (await db.Operations.AnyAsync(o => o.InstanceId == binding.InstanceId &&
                                                  (o.State == OperationState.Queued || o.State == OperationState.Running), ct))
            {
                continue;
            }

            var overlap = ScheduledRotation.OverlapOf(candidate.Limits);
            var operation = new Operation
            {
                InstanceId = binding.InstanceId, BindingId = binding.Id, Kind = OperationKind.Rotate, RequestedBy = Guid.Empty, CreatedAt = now,
                Overlap = overlap, TargetGeneration = binding.Generation + 1,
            };
            db.Operations.Add(operation);
            db.Audit(null, now, "binding.rotation-requested", "binding", binding.Id, candidate.TeamId,
                $"{binding.AppName} on {candidate.InstanceName}: scheduled every {candidate.Limits[ScheduledRotation.EveryDaysLimit]} days, " +
                $"overlap {overlap.TotalMinutes:0} min");
            if (!await db.TrySaveUnlessInstanceBusyAsync(ct))
            {
                continue; // another operation of the instance started meanwhile; the next run rotates it
            }

            await queue.EnqueueAsync(operation.Id);
            queued++;
        }

        if (queued > 0)
        {
            logger.LogInformation("Queued {Count} scheduled binding rotations", queued);
        }

        return queued;
    }
}
