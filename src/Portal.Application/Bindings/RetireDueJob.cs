using Hangfire;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Common;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Bindings;
using Portal.Domain.Operations;

namespace Portal.Application.Bindings;

/// <summary>
/// Retires a binding's previous generation once its overlap has passed: a retire operation removes it from the
/// backend. Scheduled by the rotation; the recurring sweep catches one whose scheduled job was lost.
/// </summary>
public sealed class RetireDueJob(
    IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, IBackgroundJobClient jobs, TimeProvider clock)
{
    public const string RecurringJobId = "binding-retire-due";

    /// <summary>How long to wait when another operation of the instance is running.</summary>
    public static readonly TimeSpan BusyDelay = TimeSpan.FromSeconds(20);

    public async Task RunAsync(Guid bindingId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var binding = await db.Bindings.AsNoTracking().FirstOrDefaultAsync(b => b.Id == bindingId, ct);
        var now = clock.GetUtcNow();
        if (binding is not { State: BindingState.Ready, RetiringGeneration: not null, RetireAt: { } due } || due > now)
        {
            return;
        }

        if (await db.Operations.AnyAsync(o => o.InstanceId == binding.InstanceId &&
                                              (o.State == OperationState.Queued || o.State == OperationState.Running), ct))
        {
            jobs.Schedule<RetireDueJob>(job => job.RunAsync(bindingId, CancellationToken.None), BusyDelay);
            return;
        }

        var operation = new Operation
        {
            InstanceId = binding.InstanceId, BindingId = binding.Id, Kind = OperationKind.Retire, RequestedBy = Guid.Empty, CreatedAt = now,
        };
        db.Operations.Add(operation);
        if (!await db.TrySaveUnlessInstanceBusyAsync(ct))
        {
            jobs.Schedule<RetireDueJob>(job => job.RunAsync(bindingId, CancellationToken.None), BusyDelay);
            return;
        }

        await queue.EnqueueAsync(operation.Id);
    }

    public async Task SweepAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow();
        var due = await db.Bindings.Where(b => b.RetireAt != null && b.RetireAt <= now && b.State == BindingState.Ready)
            .Select(b => b.Id).ToListAsync(ct);
        foreach (var id in due)
        {
            await RunAsync(id, ct);
        }
    }
}
