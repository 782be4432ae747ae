namespace Portal.Data;

/// <summary>
/// The platform certificate authority: its certificate (public) and private key (encrypted with Data Protection).
/// One row: created on the portal's first start, or imported from the company's own CA.
/// </summary>
public sealed class PlatformCaRecord
{
    public const string CurrentId = "platform";

    public string Id { get; init; } = CurrentId;

    public required string CertificatePem { get; init; }

    public required string ProtectedKeyPem { get; init; }

    /// <summary><c>generated</c> or <c>imported</c>.</summary>
    public required string Source { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}
