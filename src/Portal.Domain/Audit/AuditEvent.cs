namespace Portal.Domain.Audit;

/// <summary>
/// One entry of the append-only audit trail: who did what to which object, when, from where, and how
/// it ended. The database numbers the entries and chains them (each carries the hash of the one
/// before), so a changed or removed entry breaks the chain where it happened.
/// </summary>
public sealed class AuditEvent
{
    public long Id { get; init; }

    /// <summary>Position in the chain, set by the database under a lock.</summary>
    public long Sequence { get; init; }

    public DateTimeOffset At { get; init; }

    /// <summary>The user or service account; null for the system (background jobs).</summary>
    public Guid? ActorId { get; init; }

    public required string ActorName { get; init; }

    /// <summary><see cref="AuditActorKinds"/>.</summary>
    public required string ActorKind { get; init; }

    /// <summary>What happened, e.g. <c>instance.requested</c>, <c>binding.credentials-revealed</c>.</summary>
    public required string Action { get; init; }

    /// <summary>The kind of object, e.g. <c>instance</c>, <c>binding</c>, <c>backend</c>, <c>account</c>.</summary>
    public required string ObjectType { get; init; }

    public string? ObjectId { get; init; }

    /// <summary>The team the object belongs to, if any: team owners see their team's events.</summary>
    public Guid? TeamId { get; init; }

    /// <summary>The client's network address, when the action came over the network.</summary>
    public string? Address { get; init; }

    /// <summary><see cref="AuditOutcomes"/>.</summary>
    public required string Outcome { get; init; }

    /// <summary>Human-readable particulars; never a secret.</summary>
    public string? Details { get; init; }

    public string PreviousHash { get; init; } = "";

    public string Hash { get; init; } = "";
}

public static class AuditActorKinds
{
    public const string User = "user";
    public const string ServiceAccount = "service-account";
    public const string System = "system";
}

public static class AuditOutcomes
{
    public const string Success = "success";
    public const string Failure = "failure";
}
