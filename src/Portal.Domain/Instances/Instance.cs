namespace Portal.Domain.Instances;

/// <summary>A team's provisioned baseline service, e.g. one PostgreSQL database.</summary>
public sealed class Instance
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public Guid TeamId { get; init; }

    public Guid OfferingId { get; init; }

    public Guid PlanId { get; set; }

    public Guid BackendId { get; init; }

    /// <summary>The name the team gave it; unique within the team among live instances. Never reaches a backend.</summary>
    public required string Name { get; init; }

    public InstanceState State { get; private set; } = InstanceState.PendingApproval;

    /// <summary>A short line for people: the last error, or what happens now.</summary>
    public string? StatusMessage { get; private set; }

    /// <summary>What reconcile last found different on the backend, one difference per line; null when it matched.</summary>
    public string? Drift { get; private set; }

    /// <summary>When reconcile last compared the backend with the record.</summary>
    public DateTimeOffset? ReconciledAt { get; private set; }

    /// <summary>
    /// Records what reconcile found: differences make a Ready instance Drifted; none make a Drifted one Ready again.
    /// Returns true when the state changed.
    /// </summary>
    public bool Reconciled(IReadOnlyList<string> differences, DateTimeOffset now)
    {
        ReconciledAt = now;
        Drift = differences.Count == 0 ? null : string.Join('\n', differences);
        if (differences.Count > 0 && State == InstanceState.Ready)
        {
            MoveTo(InstanceState.Drifted, now, $"Drifted: {differences[0]}{(differences.Count > 1 ? $" (+{differences.Count - 1} more)" : "")}");
            return true;
        }

        if (differences.Count == 0 && State == InstanceState.Drifted)
        {
            MoveTo(InstanceState.Ready, now);
            return true;
        }

        return false;
    }

    /// <summary><c>dev</c>, <c>test</c> or <c>prod</c>: approval policies can treat them differently.</summary>
    public string Environment { get; init; } = "dev";

    /// <summary>The requester's parameters for the driver, e.g. redirect URIs; never secrets.</summary>
    public Dictionary<string, string> Parameters { get; init; } = [];

    public Guid CreatedBy { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; private set; }

    /// <summary>When the lease ends and the instance is deprovisioned; null: it does not expire.</summary>
    public DateTimeOffset? ExpiresAt { get; private set; }

    /// <summary>When the team was warned that the lease ends soon (once per lease).</summary>
    public DateTimeOffset? ExpiryWarnedAt { get; private set; }

    /// <summary>Starts the lease of a plan with a maximum, counted from <paramref name="now"/>.</summary>
    public void StartLease(int? maxLeaseDays, DateTimeOffset now) => ExpiresAt = maxLeaseDays is { } days ? now.AddDays(days) : null;

    /// <summary>
    /// Moves the end of the lease to <paramref name="until"/>, which must lie after now and within the
    /// plan's maximum counted from now.
    /// </summary>
    public void ExtendLease(DateTimeOffset until, int maxLeaseDays, DateTimeOffset now)
    {
        if (until <= now || until > now.AddDays(maxLeaseDays))
        {
            throw new ArgumentOutOfRangeException(nameof(until), $"A lease can be extended to at most {maxLeaseDays} days from now.");
        }

        ExpiresAt = until;
        ExpiryWarnedAt = null;
        UpdatedAt = now;
    }

    public void MarkExpiryWarned(DateTimeOffset now) => ExpiryWarnedAt = now;

    /// <summary>Sets the end of the lease as an approved request asked, beyond the plan's maximum.</summary>
    public void SetApprovedLease(DateTimeOffset until, DateTimeOffset now)
    {
        ExpiresAt = until;
        ExpiryWarnedAt = null;
        UpdatedAt = now;
    }

    /// <summary>A new instance that waits for approval keeps its first state, with a line saying what it waits for.</summary>
    public void HoldForApproval(DateTimeOffset now, string message)
    {
        if (State != InstanceState.PendingApproval)
        {
            throw new InvalidStateTransitionException("Instance", State, InstanceState.PendingApproval);
        }

        StatusMessage = message;
        UpdatedAt = now;
    }

    /// <summary>Says what the instance waits for (e.g. an approval), without changing its state.</summary>
    public void Note(DateTimeOffset now, string? message)
    {
        StatusMessage = message;
        UpdatedAt = now;
    }

    /// <summary>Moves to <paramref name="to"/> if the life cycle allows it, else throws.</summary>
    public void MoveTo(InstanceState to, DateTimeOffset now, string? message = null)
    {
        if (!InstanceStateMachine.CanMove(State, to))
        {
            throw new InvalidStateTransitionException("Instance", State, to);
        }

        State = to;
        StatusMessage = message;
        UpdatedAt = now;
    }
}
