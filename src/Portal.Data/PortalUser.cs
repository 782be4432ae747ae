using Microsoft.AspNetCore.Identity;

namespace Portal.Data;

/// <summary>
/// A person with a local account, or a team's service account. Both are users so that one
/// authorization path (team memberships, platform roles) serves the browser and the API alike.
/// </summary>
public sealed class PortalUser : IdentityUser<Guid>
{
    public PortalUser() => Id = Guid.CreateVersion7();

    public string DisplayName { get; set; } = "";

    /// <summary>Set for service accounts: the OIDC client id they get tokens with (client credentials).</summary>
    public string? ClientId { get; set; }

    public bool IsServiceAccount => ClientId is not null;

    public DateTimeOffset CreatedAt { get; set; }
}
