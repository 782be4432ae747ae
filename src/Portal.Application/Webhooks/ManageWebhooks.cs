using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
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
