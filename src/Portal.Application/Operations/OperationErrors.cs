using Portal.Application.Access;
using Portal.Domain.Operations;

namespace Portal.Application.Operations;

/// <summary>
/// What a team reads about a failed operation. A driver's error names the backend's host, admin user and databases,
/// which are the platform's business, not the team's: teams get a safe message with the operation id, and platform
/// admins read the driver's own words in <see cref="Operation.Error"/> (admin views and /api/v1/operations).
/// </summary>
public static class OperationErrors
{
    /// <summary>How an operation a platform admin ended begins; the admin wrote the reason for the team, so it is shown whole.</summary>
    public const string FailedByAdminPrefix = "Failed by a platform admin (";

    /// <summary>How an operation refused by the egress policy begins; it names the team's own URL and the rule, so it is shown whole.</summary>
    public const string EgressDeniedPrefix = "Refused by the egress policy: ";

    /// <summary>The team's words for a driver's failure.</summary>
    public static string ForTeam(Operation operation, bool unreachable) => unreachable
        ? $"The backend did not answer; platform admins can see the details (operation {operation.Id})."
        : $"The backend refused the operation; platform admins can see the details (operation {operation.Id}).";

    /// <summary>The operation's error as the actor may read it: whole for platform admins, safe for everyone else.</summary>
    public static string? ErrorFor(Operation operation, Actor actor) =>
        operation.Error is null || actor.IsPlatformAdmin || operation.Error.StartsWith(FailedByAdminPrefix, StringComparison.Ordinal)
            || operation.Error.StartsWith(EgressDeniedPrefix, StringComparison.Ordinal)
            ? operation.Error
            : ForTeam(operation, unreachable: false);
}
