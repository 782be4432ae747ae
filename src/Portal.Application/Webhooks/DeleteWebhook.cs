using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;

namespace Portal.Application.Webhooks;

/// <summary>Removes a team's webhook (team owners) or a platform webhook (teamId null: platform admins).</summary>
public sealed class DeleteWebhookHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task HandleAsync(Actor actor, Guid? teamId, Guid webhookId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireWebhookManagerAsync(actor, teamId, ct);
        var hook = await db.Webhooks.FirstOrDefaultAsync(w => w.Id == webhookId && w.TeamId == teamId, ct) ?? throw new NotFoundException("Webhook");
        db.Webhooks.Remove(hook);
        db.Audit(actor, clock.GetUtcNow(), "webhook.deleted", "webhook", hook.Id, teamId, hook.Url);
        await db.SaveChangesAsync(ct);
    }
}
