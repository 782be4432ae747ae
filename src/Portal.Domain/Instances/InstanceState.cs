namespace Portal.Domain.Instances;

public enum InstanceState
{
    PendingApproval,
    Provisioning,
    Ready,
    Updating,
    Deprovisioning,
    Deleted,
    Rejected,
    Failed,
    Degraded,

    /// <summary>A gated request nobody decided in time.</summary>
    Expired,

    /// <summary>Reconcile found the backend differs from the record (something was changed by hand); repairable.</summary>
    Drifted,
}

/// <summary>The instance life cycle: which state may follow which.</summary>
public static class InstanceStateMachine
{
    private static readonly Dictionary<InstanceState, InstanceState[]> Next = new()
    {
        [InstanceState.PendingApproval] = [InstanceState.Provisioning, InstanceState.Rejected, InstanceState.Expired],
        [InstanceState.Provisioning] = [InstanceState.Ready, InstanceState.Failed],
        [InstanceState.Ready] = [InstanceState.Updating, InstanceState.Deprovisioning, InstanceState.Degraded, InstanceState.Drifted],
        [InstanceState.Updating] = [InstanceState.Ready, InstanceState.Failed],
        // Repair runs as an update; a later reconcile that finds everything in place again ends the drift too.
        [InstanceState.Drifted] = [InstanceState.Ready, InstanceState.Updating, InstanceState.Deprovisioning],
        [InstanceState.Degraded] = [InstanceState.Ready, InstanceState.Updating, InstanceState.Deprovisioning],
        // A failed operation is retried (provision again) or given up (deprovision).
        [InstanceState.Failed] = [InstanceState.Provisioning, InstanceState.Updating, InstanceState.Deprovisioning],
        [InstanceState.Deprovisioning] = [InstanceState.Deleted, InstanceState.Failed],
        [InstanceState.Deleted] = [],
        [InstanceState.Rejected] = [],
        [InstanceState.Expired] = [],
    };

    public static bool CanMove(InstanceState from, InstanceState to) => Next[from].Contains(to);

    public static bool IsTerminal(this InstanceState state) => Next[state].Length == 0;

    /// <summary>True while a job is working on the instance.</summary>
    public static bool IsBusy(this InstanceState state) =>
        state is InstanceState.Provisioning or InstanceState.Updating or InstanceState.Deprovisioning;

    /// <summary>Bindings can be made only for an instance that is up.</summary>
    public static bool AcceptsBindings(this InstanceState state) =>
        state is InstanceState.Ready or InstanceState.Degraded;
}

public sealed class InvalidStateTransitionException(string entity, object from, object to)
    : InvalidOperationException($"{entity} cannot go from {from} to {to}.")
{
    public object From { get; } = from;

    public object To { get; } = to;
}
