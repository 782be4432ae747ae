using System.Globalization;
using System.Text;

namespace Portal.Provisioning.Etcd;

/// <summary>
/// Key prefix, role and user names of an etcd instance. They derive from ids only (never from user text), so
/// they are stable across retries and plain ASCII.
/// </summary>
public static class EtcdNames
{
    /// <summary>The folder under which every instance's keys live.</summary>
    public const string KeyRoot = "/portal/";

    /// <summary>Prefix of every binding user.</summary>
    public const string BindingUserPrefix = "pb_";

    /// <summary>
    /// The instance's key prefix, <c>/portal/&lt;id&gt;/</c>. The trailing slash matters: without it the prefix
    /// range of <c>/portal/ab</c> would also cover <c>/portal/abc…</c>.
    /// </summary>
    public static string KeyPrefix(Guid instanceId) => $"{KeyRoot}{instanceId:N}/";

    /// <summary>The role that may read and write exactly the instance's key prefix, <c>pi_&lt;id&gt;</c>.</summary>
    public static string Role(Guid instanceId) => $"pi_{instanceId:N}";

    /// <summary>
    /// What every binding user of the instance starts with. etcd lists users but cannot search them by role
    /// cheaply, and a crash between "add user" and "grant role" leaves a user without the role; the instance id
    /// in the name finds such users too.
    /// </summary>
    public static string BindingUsersOf(Guid instanceId) => $"{BindingUserPrefix}{instanceId:N}_";

    /// <summary>
    /// The user of one binding's credentials generation: <c>pb_&lt;instance id&gt;_&lt;binding id&gt;</c> for generation 0
    /// (the name bindings always had), with <c>_g&lt;n&gt;</c> appended for generation n ≥ 1. On a TLS backend it is also
    /// the Common Name of the generation's client certificate.
    /// </summary>
    public static string BindingUser(Guid instanceId, Guid bindingId, int generation = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(generation);
        var user = $"{BindingUsersOf(instanceId)}{bindingId:N}";
        return generation == 0 ? user : $"{user}_g{generation.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>
    /// The binding and generation of a user <see cref="BindingUser"/> makes for the instance; null for any other name.
    /// </summary>
    public static BindingGeneration? ParseBindingUser(string user, Guid instanceId) =>
        BindingNames.Parse(user, BindingUsersOf(instanceId), "_g");

    /// <summary>True when <paramref name="user"/> is a generation's user of the binding (found by name, so leftovers too).</summary>
    public static bool IsUserOfBinding(string user, Guid instanceId, Guid bindingId)
    {
        ArgumentNullException.ThrowIfNull(user);
        var first = BindingUser(instanceId, bindingId);
        return user == first || user.StartsWith(first + "_g", StringComparison.Ordinal);
    }

    /// <summary>
    /// The exclusive end of the key range that holds every key starting with <paramref name="prefix"/>: the
    /// prefix with its last byte incremented, after dropping trailing 0xFF bytes. A prefix of only 0xFF bytes
    /// (or an empty one) has no end, which etcd writes as the single byte 0 ("to the end of the key space").
    /// </summary>
    public static byte[] PrefixRangeEnd(ReadOnlySpan<byte> prefix)
    {
        var end = prefix.ToArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xFF)
            {
                end[i]++;
                return end[..(i + 1)];
            }
        }

        return [0];
    }

    /// <summary><see cref="PrefixRangeEnd(ReadOnlySpan{byte})"/> of a UTF-8 key prefix.</summary>
    public static byte[] PrefixRangeEnd(string prefix) => PrefixRangeEnd(Encoding.UTF8.GetBytes(prefix));
}
