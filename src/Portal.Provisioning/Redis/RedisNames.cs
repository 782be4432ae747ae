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

    /// <summary>The ACL user of one binding, <c>pb-&lt;id&gt;</c>.</summary>
    public static string BindingUser(Guid bindingId) => $"{BindingUserPrefix}{bindingId:N}";
}
