using System.Globalization;

namespace Portal.Provisioning.Redis;

/// <summary>
/// Backend names of a Redis instance. They derive from ids only (never from user text) and use only
/// <c>[a-z0-9-]</c> before the closing colon, so a prefix followed by <c>*</c> is a glob that matches
/// exactly the instance's keys in SCAN MATCH and ACL key/channel patterns, with nothing to escape.
/// </summary>
public static class RedisNames
{
    /// <summary>Prefix of every binding ACL user.</summary>
    public const string BindingUserPrefix = "pb-";

    /// <summary>The instance's key and channel prefix, <c>pi-&lt;id&gt;:</c>.</summary>
    public static string Prefix(Guid instanceId) => $"pi-{instanceId:N}:";

    /// <summary>The glob of every key and channel of the instance, <c>pi-&lt;id&gt;:*</c>.</summary>
    public static string Pattern(Guid instanceId) => Prefix(instanceId) + "*";

    /// <summary>
    /// The disabled ACL user that records that the instance exists, <c>pi-&lt;id&gt;</c>. It has no password
    /// and no commands, so nobody can sign in as it.
    /// </summary>
    public static string InstanceUser(Guid instanceId) => $"pi-{instanceId:N}";

    /// <summary>
    /// The ACL user of one generation of a binding's credentials: <c>pb-&lt;id&gt;</c> for generation 0 (the
    /// name bindings always had), <c>pb-&lt;id&gt;-g&lt;n&gt;</c> for rotation n. Every generation starts with
    /// <see cref="BindingUserPrefix"/>, so the instance's users are still found by that prefix and key pattern.
    /// </summary>
    public static string BindingUser(Guid bindingId, int generation = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(generation);
        return generation == 0
            ? $"{BindingUserPrefix}{bindingId:N}"
            : $"{BindingUserPrefix}{bindingId:N}-g{generation.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>The binding and generation of a user <see cref="BindingUser"/> makes; null for any other name.</summary>
    public static BindingGeneration? ParseBindingUser(string user) => BindingNames.Parse(user, BindingUserPrefix, "-g");

    /// <summary>
    /// True when <paramref name="user"/> is the user of some generation of the binding (including generations
    /// a crashed rotation left behind), and not of another binding.
    /// </summary>
    public static bool IsUserOfBinding(string user, Guid bindingId)
    {
        ArgumentNullException.ThrowIfNull(user);
        var gen0 = BindingUser(bindingId);
        if (user == gen0)
        {
            return true;
        }

        var rest = user.StartsWith(gen0 + "-g", StringComparison.Ordinal) ? user[(gen0.Length + 2)..] : "";
        return rest.Length > 0 && rest.All(char.IsAsciiDigit);
    }
}
