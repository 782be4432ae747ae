using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;

namespace Portal.Application.Webhooks;

/// <summary>A team's webhooks (team owners) or the platform's (teamId null: platform admins).</summary>
public sealed class ListWebhooksHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<IReadOnlyList<WebhookView>> HandleAsync(Actor actor, Guid? teamId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireWebhookManagerAsync(actor, teamId, ct);
        return await db.Webhooks.AsNoTracking().Where(w => w.TeamId == teamId).OrderBy(w => w.CreatedAt)
            .Select(w => new WebhookView(w.Id, w.TeamId, w.Url, w.CreatedAt)).ToListAsync(ct);
    }
}
