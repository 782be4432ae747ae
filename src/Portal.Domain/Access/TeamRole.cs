namespace Portal.Domain.Access;

/// <summary>A member's role within a team, from least to most powerful.</summary>
public enum TeamRole
{
    /// <summary>Sees the team's instances and bindings; changes nothing and reads no secrets.</summary>
    Viewer = 0,

    /// <summary>Requests and deletes instances, creates and deletes bindings, reads credentials.</summary>
    Developer = 1,

    /// <summary>Everything a developer does, and manages members and service accounts.</summary>
    Owner = 2,
}

/// <summary>What someone may do within a team.</summary>
public enum TeamPermission
{
    View,
    Deploy,
    ReadSecrets,
    ManageTeam,
}

public static class TeamRoles
{
    public static bool Allows(this TeamRole role, TeamPermission permission) => permission switch
    {
        TeamPermission.View => true,
        TeamPermission.Deploy or TeamPermission.ReadSecrets => role >= TeamRole.Developer,
        TeamPermission.ManageTeam => role == TeamRole.Owner,
        _ => false,
    };

    public static string ToWire(this TeamRole role) => role.ToString().ToLowerInvariant();

    /// <summary>Parses a role by its name only: numbers and comma lists, which Enum.TryParse takes, are refused.</summary>
    public static bool TryParse(string? value, out TeamRole role)
    {
        foreach (var candidate in Enum.GetValues<TeamRole>())
        {
            if (string.Equals(value, candidate.ToWire(), StringComparison.OrdinalIgnoreCase))
            {
                role = candidate;
                return true;
            }
        }

        role = default;
        return false;
    }
}

/// <summary>Platform-wide roles, held as ASP.NET Core Identity roles.</summary>
public static class PlatformRoles
{
    /// <summary>Runs the platform: backends, offerings, every team.</summary>
    public const string Admin = "platform-admin";

    /// <summary>Decides gated requests (approval workflows).</summary>
    public const string Approver = "approver";

    public static readonly IReadOnlyList<string> All = [Admin, Approver];
}
