using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Egress;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Egress;
using Portal.Domain.Webhooks;

namespace Portal.Application.Webhooks;

public sealed record CreateWebhook([Text(InputRules.UrlLength, Plain = true)] string Url);

/// <summary>
/// Adds a webhook for a team's events (team owners) or every team's (teamId null: platform admins). The signing
/// secret is made here and shown once. The URL must pass the egress policy (<see cref="EgressGuard"/>), here and again
/// each time a delivery connects.
/// </summary>
public sealed class CreateWebhookHandler(IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, EgressGuard egress, TimeProvider clock)
{
    public async Task<WebhookCreated> HandleAsync(Actor actor, Guid? teamId, CreateWebhook request, CancellationToken ct = default)
    {
        var urlError = EgressUrl.TryParse(request.Url?.Trim(), out _);
        new Validator()
            .Input(request)
            .Require(urlError is null, "url", urlError ?? "")
            .ThrowIfInvalid();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireWebhookManagerAsync(actor, teamId, ct);
        await egress.RequireAllowedAsync([("url", request.Url!.Trim())], EgressScope.Portal, ct);
        var secret = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 40);
        var hook = new Webhook { TeamId = teamId, Url = request.Url.Trim(), ProtectedSecret = secrets.Protect(secret), CreatedAt = clock.GetUtcNow() };
        db.Webhooks.Add(hook);
        db.Audit(actor, hook.CreatedAt, "webhook.created", "webhook", hook.Id, teamId, hook.Url);
        await db.SaveChangesAsync(ct);
        return new WebhookCreated(new WebhookView(hook.Id, hook.TeamId, hook.Url, hook.CreatedAt), secret);
    }
}
