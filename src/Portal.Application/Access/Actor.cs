using System.Security.Claims;
using Portal.Domain.Access;

namespace Portal.Application.Access;

/// <summary>Who is acting: a signed-in person or a service account, with their platform roles.</summary>
public sealed record Actor(Guid UserId, string Name, bool IsPlatformAdmin)
{
    /// <summary>The claim that carries the user id, in cookies and in access tokens alike.</summary>
    public const string UserIdClaim = "sub";

    public static Actor From(ClaimsPrincipal principal)
    {
        var id = principal.FindFirstValue(UserIdClaim) ?? principal.FindFirstValue(ClaimTypes.NameIdentifier);
        if (!Guid.TryParse(id, out var userId))
        {
            throw new InvalidOperationException("The principal carries no user id.");
        }

        var isAdmin = principal.IsInRole(PlatformRoles.Admin) || principal.HasClaim("role", PlatformRoles.Admin);
        return new Actor(userId, principal.Identity?.Name ?? id!, isAdmin);
    }
}
