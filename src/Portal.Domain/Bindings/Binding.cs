using Portal.Domain.Instances;

namespace Portal.Domain.Bindings;

public enum BindingState
{
    Creating,
    Ready,
    Deleting,
    Deleted,
    Failed,
}

/// <summary>The credentials of one app for one instance.</summary>
public sealed class Binding
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public Guid InstanceId { get; init; }

    /// <summary>The app that uses the credentials; a label, unique per instance among live bindings.</summary>
    public required string AppName { get; init; }

    public BindingState State { get; private set; } = BindingState.Creating;

    public string? StatusMessage { get; private set; }

    /// <summary>The credentials as JSON, encrypted with Data Protection. Null until the driver made them.</summary>
    public string? ProtectedCredentials { get; set; }

    /// <summary>
    /// SHA-256 (hex) of the binding's read token for the portal's read API (log streams, metrics); null when
    /// the kind has none or the binding was deleted. The token itself is only in the credentials.
    /// </summary>
    public string? ReadTokenHash { get; set; }

    public Guid CreatedBy { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; private set; }

    private static readonly Dictionary<BindingState, BindingState[]> Next = new()
    {
        [BindingState.Creating] = [BindingState.Ready, BindingState.Failed],
        [BindingState.Ready] = [BindingState.Deleting],
        [BindingState.Failed] = [BindingState.Creating, BindingState.Deleting],
        [BindingState.Deleting] = [BindingState.Deleted, BindingState.Failed],
        [BindingState.Deleted] = [],
    };

    public static bool CanMove(BindingState from, BindingState to) => Next[from].Contains(to);

    public void MoveTo(BindingState to, DateTimeOffset now, string? message = null)
    {
        if (!CanMove(State, to))
        {
            throw new InvalidStateTransitionException("Binding", State, to);
        }

        State = to;
        StatusMessage = message;
        UpdatedAt = now;
    }
}
