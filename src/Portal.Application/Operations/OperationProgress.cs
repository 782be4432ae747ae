using Microsoft.EntityFrameworkCore;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Operations;

namespace Portal.Application.Operations;

/// <summary>Writes an operation's progress lines as they come, and tells the pages watching its instance.</summary>
internal sealed class OperationProgress(
    IDbContextFactory<PortalDbContext> dbFactory, Guid operationId, Guid instanceId, TimeProvider clock)
    : IProgress<string>
{
    // Drivers report synchronously; a line is small and rare, so writing it at once keeps the order simple.
    public void Report(string value) => WriteAsync(value, CancellationToken.None).GetAwaiter().GetResult();

    public async Task WriteAsync(string message, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.OperationLines.Add(new OperationLine
        {
            OperationId = operationId,
            At = clock.GetUtcNow(),
            Message = message.Length > 2000 ? message[..2000] : message,
        });
        await db.SaveChangesAsync(ct);
        await InstanceEvents.PublishAsync(db, instanceId, ct);
    }
}
