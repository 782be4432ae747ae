namespace Portal.Data;

/// <summary>
/// A key of the OIDC server (token signing or encryption), kept in the database so tokens stay valid
/// across restarts and across web hosts. The key material is encrypted with Data Protection.
/// </summary>
public sealed class ServerKey
{
    /// <summary>What the key is for: <c>signing</c> or <c>encryption</c>.</summary>
    public required string Purpose { get; init; }

    public required string KeyId { get; init; }

    public required string ProtectedPem { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}
