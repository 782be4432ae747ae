using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;
namespace Portal.Application.Audit;

public sealed record AuditEventView(
    long Sequence, DateTimeOffset At, Guid? ActorId, string ActorName, string ActorKind, string Action, string ObjectType, string? ObjectId,
    Guid? TeamId, string? Address, string Outcome, string? Details, string Hash);

/// <summary>Filters for the audit trail; every one is optional. <c>User</c> matches the actor's name in part.</summary>
public sealed record AuditQuery(
    Guid? TeamId = null, string? User = null, string? ObjectType = null, string? ObjectId = null, string? Action = null,
    DateTimeOffset? From = null, DateTimeOffset? To = null, [Range(0, 1_000_000)] int Page = 0, [Range(1, 500)] int PageSize = 50);
