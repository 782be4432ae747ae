using System.Text.Json;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Portal.Data;
using Portal.Domain.Webhooks;

namespace Portal.Application.Webhooks;

/// <summary>
/// Sends the portal's events to the webhooks of the event's team and of the platform: each delivery is a
/// row and a Hangfire job, retried with back-off until the receiver answers 2xx.
/// </summary>
public sealed class WebhookPublisher(IDbContextFactory<PortalDbContext> dbFactory, IBackgroundJobClient jobs, TimeProvider clock)
{
    public async Task PublishAsync(string eventType, Guid? teamId, object data, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hooks = await db.Webhooks.AsNoTracking().Where(w => w.TeamId == null || w.TeamId == teamId).Select(w => w.Id).ToListAsync(ct);
        if (hooks.Count == 0)
        {
            return;
        }

        var now = clock.GetUtcNow();
        var deliveries = hooks.Select(id => new WebhookDelivery
        {
            WebhookId = id,
            EventType = eventType,
            CreatedAt = now,
            Body = JsonSerializer.Serialize(new { type = eventType, occurredAt = now, teamId, data }, JsonSerializerOptions.Web),
        }).ToList();
        db.WebhookDeliveries.AddRange(deliveries);
        await db.SaveChangesAsync(ct);
        foreach (var delivery in deliveries)
        {
            jobs.Enqueue<WebhookDeliveryJob>(job => job.RunAsync(delivery.Id, CancellationToken.None));
        }
    }
}
