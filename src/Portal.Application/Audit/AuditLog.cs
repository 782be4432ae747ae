using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;
using Portal.Domain.Audit;

namespace Portal.Application.Audit;

/// <summary>Adds audit events to a context, so they are saved in the same transaction as the change.</summary>
public static class AuditLog
{
    /// <summary>Records what <paramref name="actor"/> did; a null actor is the system (background jobs).</summary>
    public static void Audit(
        this PortalDbContext db, Actor? actor, DateTimeOffset at, string action, string objectType, object? objectId, Guid? teamId,
        string? details = null, string outcome = AuditOutcomes.Success) =>
        db.AuditEvents.Add(new AuditEvent
        {
            At = at,
            ActorId = actor is null || actor.Kind == AuditActorKinds.System ? null : actor.UserId,
            ActorName = actor?.Name ?? "portal",
            ActorKind = actor?.Kind ?? AuditActorKinds.System,
            Action = action,
            ObjectType = objectType,
            ObjectId = objectId?.ToString(),
            TeamId = teamId,
            Address = actor?.Address,
            Outcome = outcome,
            Details = details is { Length: > 2000 } ? details[..2000] : details,
        });
}

/// <summary>Writes an audit event on its own, for actions that change nothing else in the portal's tables.</summary>
public sealed class AuditWriter(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock, Telemetry.PortalMetrics metrics)
{
    public async Task WriteAsync(
        Actor? actor, string action, string objectType, object? objectId, Guid? teamId = null, string? details = null,
        string outcome = AuditOutcomes.Success, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.Audit(actor, clock.GetUtcNow(), action, objectType, objectId, teamId, details, outcome);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>A person signed out: their cookie sessions ended.</summary>
    public Task WriteSignOutAsync(string name, Guid userId, string? address, CancellationToken ct = default) =>
        WriteAsync(new Actor(userId, name, IsPlatformAdmin: false, Address: address), "auth.signed-out", "account", userId, ct: ct);

    /// <summary>A sign-in attempt by a person or a service account, including the ones that failed.</summary>
    public async Task WriteSignInAsync(
        string name, Guid? userId, string kind, string? address, bool succeeded, string? details = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.AuditEvents.Add(new AuditEvent
        {
            At = clock.GetUtcNow(),
            ActorId = userId,
            // The name a refused attempt tried is the caller's text (a form field, a client id): it may hold anything.
            ActorName = Common.InputRules.Recordable(name, 256),
            ActorKind = kind,
            Action = succeeded ? "auth.signed-in" : "auth.sign-in-failed",
            ObjectType = "account",
            ObjectId = userId?.ToString(),
            Address = address,
            Outcome = succeeded ? AuditOutcomes.Success : AuditOutcomes.Failure,
            Details = details,
        });
        await db.SaveChangesAsync(ct);
        if (!succeeded)
        {
            metrics.SignInFailed(kind);
        }
    }
}
