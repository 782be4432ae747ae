namespace Portal.Provisioning;

/// <summary>
/// Manages one kind of baseline service on a backend server. Every method is idempotent: a job that
/// crashed half-way calls it again, and the backend resource names derive from the instance and binding
/// ids (never from user text), so the retry finds what the first try made.
/// </summary>
public interface IServiceDriver
{
    /// <summary>The offering kind this driver serves, e.g. <c>postgresql</c>.</summary>
    string Kind { get; }

    /// <summary>Creates the instance's resources on the backend, or finishes what an earlier try began.</summary>
    Task<ProvisionResult> ProvisionAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>Applies the instance's (new) plan limits to what exists on the backend.</summary>
    Task UpdateAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>Removes everything of the instance from the backend, its bindings included.</summary>
    Task DeprovisionAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>Creates (or re-creates with a fresh secret) the credentials of one binding.</summary>
    Task<BindingCredentials> BindAsync(BindingContext binding, CancellationToken ct);

    /// <summary>Revokes one binding's credentials and ends its open sessions where the server allows.</summary>
    Task UnbindAsync(BindingContext binding, CancellationToken ct);

    /// <summary>Reports whether the instance exists on the backend and is usable.</summary>
    Task<HealthReport> CheckAsync(InstanceContext instance, CancellationToken ct);

    /// <summary>Checks that the backend answers with the admin credentials ("test connection").</summary>
    Task<HealthReport> TestBackendAsync(BackendEndpoint backend, CancellationToken ct);
}

/// <summary>Where a backend server is and how the portal signs in to administer it.</summary>
public sealed record BackendEndpoint(string Host, int Port, string AdminUser, string AdminPassword)
{
    // Keep the password out of logs and exception messages that print the record.
    public override string ToString() => $"{AdminUser}@{Host}:{Port}";
}

/// <summary>What a driver needs to know about one instance.</summary>
/// <param name="InstanceId">The instance's id; backend names derive from it.</param>
/// <param name="Backend">The backend server the instance lives on.</param>
/// <param name="Limits">The plan's limits, e.g. <c>connections</c> = 20.</param>
/// <param name="Progress">Receives human-readable progress lines (never secrets).</param>
public sealed record InstanceContext(
    Guid InstanceId,
    BackendEndpoint Backend,
    IReadOnlyDictionary<string, int> Limits,
    IProgress<string> Progress);

/// <summary>What a driver needs to know about one binding.</summary>
public sealed record BindingContext(InstanceContext Instance, Guid BindingId);

/// <summary>Non-secret facts about a provisioned instance, e.g. the database name.</summary>
public sealed record ProvisionResult(IReadOnlyDictionary<string, string> Outputs);

/// <summary>
/// The credentials an app uses to reach its instance, as ordered key/value pairs (e.g. host, port,
/// database, username, password, uri). The whole set is treated as secret by the portal.
/// </summary>
public sealed record BindingCredentials(IReadOnlyDictionary<string, string> Values)
{
    public override string ToString() => $"BindingCredentials({string.Join(", ", Values.Keys)})";
}

public sealed record HealthReport(bool Healthy, string Message);
