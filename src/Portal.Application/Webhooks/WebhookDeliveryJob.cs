using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Portal.Data;
using Portal.Data.Security;

namespace Portal.Application.Webhooks;

/// <summary>
/// Posts one delivery. The body is signed with HMAC-SHA256 over <c>{timestamp}.{body}</c> with the
/// webhook's secret, so receivers can check the sender and refuse replays of old timestamps. The client judges every
/// connection by the egress policy and follows no redirects (<see cref="Egress.EgressHttp"/>): a 3xx is a failed delivery.
/// </summary>
[AutomaticRetry(Attempts = 6, DelaysInSeconds = [5, 30, 120, 600, 1800, 3600])]
public sealed class WebhookDeliveryJob(
    IDbContextFactory<PortalDbContext> dbFactory, IHttpClientFactory http, SecretProtector secrets, TimeProvider clock,
    Telemetry.PortalMetrics metrics, ILogger<WebhookDeliveryJob> logger)
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
        catch (HttpRequestException e) when (e.InnerException is Egress.EgressDeniedException denied)
        {
            // Checked at connect time, so a name that now resolves inside the platform (DNS rebinding) or an allow entry
            // that was removed stops the delivery. Retrying cannot help; the next event tries again.
            delivery.LastError = $"Refused by the egress policy: {denied.Message}";
            await db.SaveChangesAsync(CancellationToken.None);
            metrics.WebhookDeliveryFailed(delivery.EventType, "egress_denied");
            logger.LogWarning("Webhook delivery {Delivery} to {Url} refused by the egress policy: {Reason}", delivery.Id, hook.Url, denied.Message);
            return;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            delivery.LastError = e.Message.Length > 2000 ? e.Message[..2000] : e.Message;
            await db.SaveChangesAsync(CancellationToken.None);
            metrics.WebhookDeliveryFailed(delivery.EventType, "http");
            logger.LogWarning("Webhook delivery {Delivery} to {Url} failed (attempt {Attempt}): {Error}", delivery.Id, hook.Url, delivery.Attempts, e.Message);
            throw; // Hangfire retries with back-off.
        }

        await db.SaveChangesAsync(ct);
    }
}
