using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Webhooks;

namespace Portal.Application.Webhooks;

public sealed record CreateWebhook([Text(InputRules.UrlLength, Plain = true)] string Url);

/// <summary>
/// Adds a webhook for a team's events (team owners) or every team's (teamId null: platform admins). The signing
/// secret is made here and shown once.
/// </summary>
public sealed class CreateWebhookHandler(IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, TimeProvider clock)
{
    public async Task<WebhookCreated> HandleAsync(Actor actor, Guid? teamId, CreateWebhook request, CancellationToken ct = default)
    {
        new Validator()
            .Input(request)
            .Require(Uri.TryCreate(request.Url, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http", "url",
                "Give an absolute http or https URL.")
            .ThrowIfInvalid();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireWebhookManagerAsync(actor, teamId, ct);
        var secret = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 40);
        var hook = new Webhook { TeamId = teamId, Url = request.Url, ProtectedSecret = secrets.Protect(secret), CreatedAt = clock.GetUtcNow() };
        db.Webhooks.Add(hook);
        db.Audit(actor, hook.CreatedAt, "webhook.created", "webhook", hook.Id, teamId, hook.Url);
        await db.SaveChangesAsync(ct);
        return new WebhookCreated(new WebhookView(hook.Id, hook.TeamId, hook.Url, hook.CreatedAt), secret);
    }
}
