using Portal.Domain.Access;

namespace Portal.Domain.Teams;

/// <summary>A tenant: the group of people (and service accounts) that owns instances.</summary>
public sealed class Team
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    /// <summary>URL-friendly unique name, e.g. <c>payments</c>.</summary>
    public required string Slug { get; init; }

    public required string Name { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public List<TeamMember> Members { get; init; } = [];
}

/// <summary>A user's (or service account's) role in one team.</summary>
public sealed class TeamMember
{
    public Guid TeamId { get; init; }

    public Guid UserId { get; init; }

    public TeamRole Role { get; set; }

    public DateTimeOffset AddedAt { get; init; }
}
