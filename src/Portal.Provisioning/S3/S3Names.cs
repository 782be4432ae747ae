using System.Globalization;

namespace Portal.Provisioning.S3;

/// <summary>
/// Backend names of an <c>s3</c> instance. They derive from ids only (never from user text) and use only
/// characters every S3 server accepts where they go: an account name of <c>[a-z0-9_]</c> (RGW tenant names
/// refuse <c>-</c>), a bucket name of <c>[a-z0-9-]</c> (S3 bucket rules refuse <c>_</c>), and access key ids of
/// upper-case hex like AWS's own.
/// </summary>
/// <remarks>
/// Access key ids are global on an S3 server, and the driver sets them itself (RGW and MinIO allow that), so
/// unbind and a repeated bind find a binding's key from the binding id alone, and a crashed provision finds
/// its temporary key from the instance id.
/// </remarks>
public static class S3Names
{
    /// <summary>The instance's account (on RGW: the tenant of the instance's user), <c>pi_&lt;id&gt;</c>.</summary>
    public static string Account(Guid instanceId) => $"pi_{instanceId:N}";

    /// <summary>The instance's bucket, <c>pi-&lt;id&gt;</c> (35 characters; S3 allows 3 to 63).</summary>
    public static string Bucket(Guid instanceId) => $"pi-{instanceId:N}";

    /// <summary>
    /// The access key id of one generation of a binding's credentials: <c>PB&lt;ID&gt;</c> (34 characters) for
    /// generation 0, the id bindings always had, and <c>PB&lt;ID&gt;G&lt;n&gt;</c> for rotation n. The generation
    /// mark is a <c>G</c> rather than the <c>-g</c> of other kinds, so key ids stay upper-case letters and digits
    /// like AWS's own; <c>G</c> is no hex digit, so it cannot be mistaken for part of the binding id.
    /// </summary>
    public static string BindingAccessKeyId(Guid bindingId, int generation = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(generation);
        return generation == 0
            ? $"PB{UpperHex(bindingId)}"
            : $"PB{UpperHex(bindingId)}G{generation.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>
    /// The binding and generation of an access key id <see cref="BindingAccessKeyId"/> makes; null for any other id
    /// (the provisioning key's included).
    /// </summary>
    public static BindingGeneration? ParseBindingAccessKeyId(string accessKeyId) =>
        BindingNames.Parse(accessKeyId, "PB", "G", upperCaseId: true);

    /// <summary>
    /// True when <paramref name="accessKeyId"/> is the key of some generation of the binding (including one a
    /// crashed rotation left behind), and not another binding's or the provisioning key.
    /// </summary>
    public static bool IsKeyOfBinding(string accessKeyId, Guid bindingId)
    {
        ArgumentNullException.ThrowIfNull(accessKeyId);
        var gen0 = BindingAccessKeyId(bindingId);
        if (accessKeyId == gen0)
        {
            return true;
        }

        var rest = accessKeyId.StartsWith(gen0 + "G", StringComparison.Ordinal) ? accessKeyId[(gen0.Length + 1)..] : "";
        return rest.Length > 0 && rest.All(char.IsAsciiDigit);
    }

    /// <summary>
    /// The access key id the driver uses while it creates the instance's bucket (the admin API of RGW cannot
    /// create buckets for a user), <c>PI&lt;ID&gt;</c>. It is revoked before provisioning ends.
    /// </summary>
    public static string ProvisioningAccessKeyId(Guid instanceId) => $"PI{UpperHex(instanceId)}";

    private static string UpperHex(Guid id) => id.ToString("N").ToUpperInvariant();
}
