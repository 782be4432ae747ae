using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Operations;

/// <summary>One operation with its progress, for its instance's team.</summary>
public sealed class GetOperationHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<OperationView> HandleAsync(Actor actor, Guid operationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var operation = await db.Operations.AsNoTracking()
            .Include(o => o.Lines.OrderBy(l => l.Id))
            .FirstOrDefaultAsync(o => o.Id == operationId, ct) ?? throw new NotFoundException("Operation");
        await db.RequireInstanceAsync(actor, operation.InstanceId, TeamPermission.View, ct);
        return OperationMapping.ToView(operation, actor);
    }
}
