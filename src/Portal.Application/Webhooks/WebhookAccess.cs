using Portal.Application.Access;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Webhooks;

/// <summary>
/// Who manages webhooks: a team's (teamId given) its owners, the platform's (teamId null) platform admins.
/// </summary>
internal static class WebhookAccess
{
    public static async Task RequireWebhookManagerAsync(this PortalDbContext db, Actor actor, Guid? teamId, CancellationToken ct)
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
