using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Portal.Data;

namespace Portal.Application.Backends;

/// <summary>
/// What operations learn of a backend between health checks: one that did not answer is marked down at once (so
/// placement sends new instances elsewhere and says why), and up again when an operation on it succeeds.
/// </summary>
public sealed class BackendReachability(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock, ILogger<BackendReachability> logger)
{
    public async Task RecordUnreachableAsync(Guid backendId, string backendName, string error, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var message = $"Unreachable from an operation: {error}";
        var changed = await db.Backends.Where(b => b.Id == backendId && b.LastCheckHealthy != false)
            .ExecuteUpdateAsync(s => s
                .SetProperty(b => b.LastCheckHealthy, false)
                .SetProperty(b => b.LastCheckMessage, message.Length > 1000 ? message[..1000] : message)
                .SetProperty(b => b.LastCheckedAt, clock.GetUtcNow()), ct);
        if (changed > 0)
        {
            logger.LogWarning("Backend {Backend} is now unhealthy: {Message}", backendName, message);
        }
    }

    public async Task RecordReachableAsync(Guid backendId, string backendName, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var changed = await db.Backends.Where(b => b.Id == backendId && b.LastCheckHealthy == false)
            .ExecuteUpdateAsync(s => s
                .SetProperty(b => b.LastCheckHealthy, true)
                .SetProperty(b => b.LastCheckMessage, "Reachable again: an operation on it succeeded.")
                .SetProperty(b => b.LastCheckedAt, clock.GetUtcNow()), ct);
        if (changed > 0)
        {
            logger.LogInformation("Backend {Backend} is now healthy: an operation on it succeeded", backendName);
        }
    }
}
