using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Access;
using Portal.Domain.Webhooks;

namespace Portal.Application.Webhooks;

public sealed record WebhookView(Guid Id, Guid? TeamId, string Url, DateTimeOffset CreatedAt);

/// <summary>The signing secret is shown once, when the webhook is made.</summary>
public sealed record WebhookCreated(WebhookView Webhook, string Secret);

public sealed record CreateWebhook(string Url);

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

/// <summary>
/// Posts one delivery. The body is signed with HMAC-SHA256 over <c>{timestamp}.{body}</c> with the
/// webhook's secret, so receivers can check the sender and refuse replays of old timestamps.
/// </summary>
[AutomaticRetry(Attempts = 6, DelaysInSeconds = [5, 30, 120, 600, 1800, 3600])]
public sealed class WebhookDeliveryJob(
    IDbContextFactory<PortalDbContext> dbFactory, IHttpClientFactory http, SecretProtector secrets, TimeProvider clock, ILogger<WebhookDeliveryJob> logger)
{
    public const string SignatureHeader = "X-Portal-Signature";
    public const string TimestampHeader = "X-Portal-Timestamp";

    public static string Sign(string secret, string timestamp, string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}")));

    public async Task RunAsync(Guid deliveryId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var delivery = await db.WebhookDeliveries.FirstOrDefaultAsync(d => d.Id == deliveryId, ct);
        if (delivery is null || delivery.DeliveredAt is not null)
        {
            return;
        }

        var hook = await db.Webhooks.AsNoTracking().FirstOrDefaultAsync(w => w.Id == delivery.WebhookId, ct);
        if (hook is null)
        {
            return;
        }

        delivery.Attempts++;
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, hook.Url)
        {
            Content = new StringContent(delivery.Body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        request.Headers.Add("X-Portal-Event", delivery.EventType);
        request.Headers.Add("X-Portal-Delivery", delivery.Id.ToString());
        request.Headers.Add(TimestampHeader, timestamp);
        request.Headers.Add(SignatureHeader, Sign(secrets.Unprotect(hook.ProtectedSecret), timestamp, delivery.Body));
        try
        {
            using var response = await http.CreateClient(nameof(WebhookDeliveryJob)).SendAsync(request, ct);
            response.EnsureSuccessStatusCode();
            delivery.DeliveredAt = clock.GetUtcNow();
            delivery.LastError = null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            delivery.LastError = e.Message.Length > 2000 ? e.Message[..2000] : e.Message;
            await db.SaveChangesAsync(CancellationToken.None);
            logger.LogWarning("Webhook delivery {Delivery} to {Url} failed (attempt {Attempt}): {Error}", delivery.Id, hook.Url, delivery.Attempts, e.Message);
            throw; // Hangfire retries with back-off.
        }

        await db.SaveChangesAsync(ct);
    }
}

/// <summary>
/// A team's webhooks (team owners) or the platform's (teamId null: platform admins). The secret is made
/// here and shown once.
/// </summary>
public sealed class ManageWebhooksHandler(IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, TimeProvider clock)
{
    public async Task<IReadOnlyList<WebhookView>> ListAsync(Actor actor, Guid? teamId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await RequireAsync(db, actor, teamId, ct);
        return await db.Webhooks.AsNoTracking().Where(w => w.TeamId == teamId).OrderBy(w => w.CreatedAt)
            .Select(w => new WebhookView(w.Id, w.TeamId, w.Url, w.CreatedAt)).ToListAsync(ct);
    }

    public async Task<WebhookCreated> CreateAsync(Actor actor, Guid? teamId, CreateWebhook request, CancellationToken ct = default)
    {
        new Validator()
            .Require(Uri.TryCreate(request.Url, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http", "url",
                "Give an absolute http or https URL.")
            .ThrowIfInvalid();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await RequireAsync(db, actor, teamId, ct);
        var secret = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 40);
        var hook = new Webhook { TeamId = teamId, Url = request.Url, ProtectedSecret = secrets.Protect(secret), CreatedAt = clock.GetUtcNow() };
        db.Webhooks.Add(hook);
        db.Audit(actor, hook.CreatedAt, "webhook.created", "webhook", hook.Id, teamId, hook.Url);
        await db.SaveChangesAsync(ct);
        return new WebhookCreated(new WebhookView(hook.Id, hook.TeamId, hook.Url, hook.CreatedAt), secret);
    }

    public async Task DeleteAsync(Actor actor, Guid? teamId, Guid webhookId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await RequireAsync(db, actor, teamId, ct);
        var hook = await db.Webhooks.FirstOrDefaultAsync(w => w.Id == webhookId && w.TeamId == teamId, ct) ?? throw new NotFoundException("Webhook");
        db.Webhooks.Remove(hook);
        db.Audit(actor, clock.GetUtcNow(), "webhook.deleted", "webhook", hook.Id, teamId, hook.Url);
        await db.SaveChangesAsync(ct);
    }

    private static async Task RequireAsync(PortalDbContext db, Actor actor, Guid? teamId, CancellationToken ct)
    {
        if (teamId is { } id)
        {
            await db.RequireAsync(actor, id, TeamPermission.ManageTeam, "Team", ct);
        }
        else
        {
            actor.RequirePlatformAdmin();
        }
    }
}
