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

    /// <summary>
    /// SHA-256 of the read token of the generation a rotation is retiring; it keeps working until
    /// <see cref="RetireAt"/>, like the rest of that generation's credentials.
    /// </summary>
    public string? RetiringReadTokenHash { get; set; }

    /// <summary>The binding asked for a client certificate from the platform CA (where the backend takes them).</summary>
    public bool ClientCertificate { get; init; }

    /// <summary>When the current client certificate expires; the renewal job issues the next one before.</summary>
    public DateTimeOffset? CertificateExpiresAt { get; set; }

    /// <summary>The generation of the current credentials: 0 when made, one more per rotation.</summary>
    public int Generation { get; private set; }

    /// <summary>The earlier generation that still works during a rotation's overlap; null when there is none.</summary>
    public int? RetiringGeneration { get; private set; }

    /// <summary>When <see cref="RetiringGeneration"/> stops working.</summary>
    public DateTimeOffset? RetireAt { get; private set; }

    /// <summary>When the current generation was made by a rotation; null while the binding has not rotated.</summary>
    public DateTimeOffset? RotatedAt { get; private set; }

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

    /// <summary>
    /// Records a rotation: the new generation is current, the previous one keeps working until
    /// <paramref name="now"/> + <paramref name="overlap"/>. Only one earlier generation overlaps at a time: the
    /// caller retires a pending one first.
    /// </summary>
    public void Rotated(DateTimeOffset now, TimeSpan overlap)
    {
        if (State != BindingState.Ready)
        {
            throw new InvalidOperationException($"Only a Ready binding rotates; this one is {State}.");
        }

        if (RetiringGeneration is not null)
        {
            throw new InvalidOperationException($"Generation {RetiringGeneration} must be retired before the next rotation.");
        }

        if (overlap < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(overlap), "An overlap cannot be negative.");
        }

        RetiringGeneration = Generation;
        Generation++;
        RetireAt = now + overlap;
        RotatedAt = now;
        UpdatedAt = now;
    }

    /// <summary>Records that the retiring generation stopped working on the backend.</summary>
    public void Retired(DateTimeOffset now)
    {
        RetiringGeneration = null;
        RetireAt = null;
        RetiringReadTokenHash = null;
        UpdatedAt = now;
    }

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
