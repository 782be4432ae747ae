namespace Portal.Domain.Operations;

public enum OperationKind
{
    Provision,
    Update,
    Deprovision,
    Bind,
    Unbind,

    /// <summary>Makes a binding's next credential generation; the previous keeps working for the overlap.</summary>
    Rotate,

    /// <summary>Removes a binding's retiring generation from the backend once its overlap has passed.</summary>
    Retire,

    /// <summary>
    /// Re-applies a drifted instance's desired state: its resources, limits and the credentials of its bindings (with
    /// the secrets they had), and removes credentials the record does not know. Never deletes data.
    /// </summary>
    Repair,
}

public enum OperationState
{
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// <summary>One asynchronous execution against a backend, run by a background job.</summary>
public sealed class Operation
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public Guid InstanceId { get; init; }

    /// <summary>Set for bind, unbind, rotate and retire.</summary>
    public Guid? BindingId { get; init; }

    /// <summary>For a rotation: how long the previous credentials keep working.</summary>
    public TimeSpan? Overlap { get; init; }

    /// <summary>
    /// For a rotation: the generation it makes, fixed when it is requested, so a retry after a crash finds the
    /// rotation done instead of making another generation (and ending the overlap it promised early).
    /// </summary>
    public int? TargetGeneration { get; init; }

    /// <summary>
    /// Since when the backend has been unreachable for this operation: it waits (without using up its attempts)
    /// until the backend answers or <c>Jobs:BackendDownTimeout</c> has passed. Null while the backend answers.
    /// </summary>
    public DateTimeOffset? BackendUnreachableSince { get; set; }

    public OperationKind Kind { get; init; }

    public OperationState State { get; set; } = OperationState.Queued;

    public string? JobId { get; set; }

    public string? Error { get; set; }

    public int Attempts { get; set; }

    public Guid RequestedBy { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    public List<OperationLine> Lines { get; init; } = [];

    public bool IsFinished => State is OperationState.Succeeded or OperationState.Failed;
}

/// <summary>A progress line written while the operation runs.</summary>
public sealed class OperationLine
{
    public long Id { get; init; }

    public Guid OperationId { get; init; }

    public DateTimeOffset At { get; init; }

    public required string Message { get; init; }
}
