namespace Portal.Domain.Notifications;

/// <summary>A message for one person in the portal: something they asked for moved, or waits for them.</summary>
public sealed class Notification
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public Guid UserId { get; init; }

    public required string Title { get; init; }

    public string? Body { get; init; }

    /// <summary>Where to go, e.g. <c>/instances/{id}</c> or <c>/approvals</c>.</summary>
    public string? Link { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? ReadAt { get; set; }
}
