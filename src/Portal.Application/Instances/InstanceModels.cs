namespace Portal.Application.Instances;

public sealed record InstanceSummary(
    Guid Id, string Name, Guid TeamId, string TeamName, string OfferingKey, string OfferingName, string PlanKey, string PlanName,
    string State, string? StatusMessage, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ExpiresAt = null);

public sealed record OperationLineView(DateTimeOffset At, string Message);

public sealed record OperationView(
    Guid Id, Guid InstanceId, Guid? BindingId, string Kind, string State, int Attempts, string? Error,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, IReadOnlyList<OperationLineView> Lines);

/// <param name="Generation">The credentials' generation: 0 when made, one more per rotation.</param>
/// <param name="RetiringGeneration">The previous generation still working during a rotation's overlap, until <paramref name="RetireAt"/>.</param>
/// <param name="CertificateExpiresAt">When the current client certificate expires (renewed before by a recurring job).</param>
public sealed record BindingView(
    Guid Id, Guid InstanceId, string AppName, string State, string? StatusMessage, DateTimeOffset CreatedAt,
    bool ClientCertificate = false, int Generation = 0, int? RetiringGeneration = null, DateTimeOffset? RetireAt = null,
    DateTimeOffset? CertificateExpiresAt = null, DateTimeOffset? RotatedAt = null, DateTimeOffset? NextRotationAt = null);

/// <summary>What the actor may do with the instance, so pages show only the actions that will work.</summary>
public sealed record InstancePermissions(bool CanDeploy, bool CanReadSecrets, bool CanManageTeam = false);

public sealed record InstanceDetails(
    InstanceSummary Instance, IReadOnlyList<BindingView> Bindings, IReadOnlyList<OperationView> Operations, InstancePermissions Permissions,
    int? MaxLeaseDays = null, string? Site = null, IReadOnlyDictionary<string, string>? Parameters = null, string? Kind = null)
{
    /// <summary>What reconcile last found different on the backend, one line each; empty when it matched.</summary>
    public IReadOnlyList<string> Drift { get; init; } = [];

    /// <summary>When reconcile last compared the backend with the record.</summary>
    public DateTimeOffset? ReconciledAt { get; init; }
}

/// <summary>
/// An accepted change: the object as it is now, and the operation that carries the change out — or, when
/// the approval policy gated it, the approval request it waits on (and no operation yet).
/// </summary>
public sealed record AcceptedChange<T>(T Value, Guid? OperationId, Guid? ApprovalRequestId = null);

public sealed record Page<T>(IReadOnlyList<T> Items, int TotalItems, int PageIndex, int PageSize);
