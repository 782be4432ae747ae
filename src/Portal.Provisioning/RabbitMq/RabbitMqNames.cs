namespace Portal.Provisioning.RabbitMq;

/// <summary>
/// Backend object names of a RabbitMQ instance. They derive from ids only (never from user text), so they are
/// stable across retries and need no escaping in URIs (lowercase hex, digits and underscores).
/// </summary>
/// <remarks>
/// A binding user's name starts with its instance's <see cref="BindingUserPrefix"/>. RabbitMQ keeps users
/// when their vhost is deleted, and a bind that crashed between creating the user and granting its
/// permissions leaves a user that no vhost knows; the prefix finds every such user from the instance id alone.
/// </remarks>
public static class RabbitMqNames
{
    /// <summary>The instance's vhost, <c>pi_&lt;id&gt;</c>.</summary>
    public static string Vhost(Guid instanceId) => $"pi_{instanceId:N}";

    /// <summary>The prefix shared by all binding users of one instance, <c>pb_&lt;instance id&gt;_</c>.</summary>
    public static string BindingUserPrefix(Guid instanceId) => $"pb_{instanceId:N}_";

    /// <summary>The user of one binding, <c>pb_&lt;instance id&gt;_&lt;binding id&gt;</c>.</summary>
    public static string BindingUser(Guid instanceId, Guid bindingId) => $"{BindingUserPrefix(instanceId)}{bindingId:N}";
}
