using System.Security.Claims;
using Portal.Domain.Access;
using Portal.Domain.Audit;

namespace Portal.Application.Access;

/// <summary>
/// Who is acting: a signed-in person or a service account, with their platform roles, and the network
/// address the action came from (for the audit trail).
/// </summary>
public sealed record Actor(Guid UserId, string Name, bool IsPlatformAdmin, string Kind = AuditActorKinds.User, string? Address = null)
{
    /// <summary>Holds the platform role <c>approver</c>: may decide stages that name platform approvers.</summary>
    public bool IsApprover { get; init; }

    /// <summary>The claim that carries the user id, in cookies and in access tokens alike.</summary>
    public const string UserIdClaim = "sub";

    /// <summary>The portal itself, for what recurring jobs do (e.g. deprovision an expired lease).</summary>
    public static readonly Actor System = new(Guid.Empty, "portal", IsPlatformAdmin: true, AuditActorKinds.System);

    /// <summary>Set in service accounts' access tokens.</summary>
    public const string KindClaim = "portal_actor_kind";

    public static Actor From(ClaimsPrincipal principal, string? address = null)
    {
        var id = principal.FindFirstValue(UserIdClaim) ?? principal.FindFirstValue(ClaimTypes.NameIdentifier);
        if (!Guid.TryParse(id, out var userId))
        {
            throw new InvalidOperationException("The principal carries no user id.");
        }

        var isAdmin = principal.IsInRole(PlatformRoles.Admin) || principal.HasClaim("role", PlatformRoles.Admin);
        var kind = principal.FindFirstValue(KindClaim) ?? AuditActorKinds.User;
        return new Actor(userId, principal.Identity?.Name ?? id!, isAdmin, kind, address)
        {
            IsApprover = principal.IsInRole(PlatformRoles.Approver) || principal.HasClaim("role", PlatformRoles.Approver),
        };
    }
}
