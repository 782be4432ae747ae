namespace Portal.Domain.Operations;

public enum OperationKind
{
    Provision,
    Update,
    Deprovision,
    Bind,
    Unbind,
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

    /// <summary>Set for bind and unbind.</summary>
    public Guid? BindingId { get; init; }

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
