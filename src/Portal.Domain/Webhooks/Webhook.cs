namespace Portal.Domain.Webhooks;

/// <summary>An endpoint that receives the portal's events as signed JSON, for one team or for the platform.</summary>
public sealed class Webhook
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    /// <summary>The team whose events it receives; null: the platform's (every team's) events.</summary>
    public Guid? TeamId { get; init; }

    public required string Url { get; init; }

    /// <summary>The signing secret, encrypted with Data Protection.</summary>
    public required string ProtectedSecret { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>One event on its way to one webhook; Hangfire retries it with back-off until it is delivered.</summary>
public sealed class WebhookDelivery
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public Guid WebhookId { get; init; }

    public required string EventType { get; init; }

    public required string Body { get; init; }

    public int Attempts { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? DeliveredAt { get; set; }

    public string? LastError { get; set; }
}

public static class WebhookEvents
{
    public const string RequestSubmitted = "request.submitted";
    public const string RequestApproved = "request.approved";
    public const string RequestRejected = "request.rejected";
    public const string InstanceReady = "instance.ready";
    public const string InstanceFailed = "instance.failed";

    /// <summary>Reconcile found the backend differs from the record; the data lists the differences.</summary>
    public const string InstanceDrifted = "instance.drifted";
    public const string LeaseExpiring = "lease.expiring";

    // Binding events tell automation that credentials changed, so apps re-read them; they carry no secret.
    public const string BindingReady = "binding.ready";
    public const string BindingRotated = "binding.rotated";
    public const string BindingGenerationRetired = "binding.generation-retired";
    public const string BindingCertificateRenewed = "binding.certificate-renewed";
    public const string BindingRevoked = "binding.revoked";
}
