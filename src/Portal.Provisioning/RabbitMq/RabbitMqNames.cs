using System.Globalization;

namespace Portal.Provisioning.RabbitMq;

/// <summary>
/// Backend object names of a RabbitMQ instance. They derive from ids only (never from user text), so they are
/// stable across retries and need no escaping in URIs (lowercase hex, digits and underscores).
/// </summary>
/// <remarks>
/// A binding user's name starts with its instance's <see cref="BindingUserPrefix"/>. RabbitMQ keeps users
/// when their vhost is deleted, and a bind that crashed between creating the user and granting its
/// permissions leaves a user that no vhost knows; the prefix finds every such user from the instance id alone.
/// Each credential generation of a binding is its own user (<c>…_g1</c>, <c>…_g2</c> after rotations), so a
/// rotation's overlap keeps the old user working and retiring it deletes only that user.
/// </remarks>
public static class RabbitMqNames
{
    private const string GenerationMark = "_g";

    /// <summary>The instance's vhost, <c>pi_&lt;id&gt;</c>.</summary>
    public static string Vhost(Guid instanceId) => $"pi_{instanceId:N}";

    /// <summary>The prefix shared by all binding users of one instance, <c>pb_&lt;instance id&gt;_</c>.</summary>
    public static string BindingUserPrefix(Guid instanceId) => $"pb_{instanceId:N}_";

    /// <summary>
    /// The user of one generation of a binding: <c>pb_&lt;instance id&gt;_&lt;binding id&gt;</c> for generation 0 (the
    /// name bindings always had), with <c>_g&lt;n&gt;</c> appended for generation n ≥ 1.
    /// </summary>
    public static string BindingUser(Guid instanceId, Guid bindingId, int generation = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(generation);
        var user = $"{BindingUserPrefix(instanceId)}{bindingId:N}";
        return generation == 0 ? user : user + GenerationMark + generation.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The binding and generation of a user <see cref="BindingUser"/> makes for the instance; null for any other name.
    /// </summary>
    public static BindingGeneration? ParseBindingUser(string user, Guid instanceId) =>
        BindingNames.Parse(user, BindingUserPrefix(instanceId), GenerationMark);

    /// <summary>True when <paramref name="user"/> is the user of some generation of the binding.</summary>
    public static bool IsBindingUser(string user, Guid instanceId, Guid bindingId)
    {
        ArgumentNullException.ThrowIfNull(user);
        var first = BindingUser(instanceId, bindingId);
        if (user == first)
        {
            return true;
        }

        // Binding ids have a fixed length, so another binding's users never share this one's name as a prefix.
        return user.StartsWith(first + GenerationMark, StringComparison.Ordinal)
            && int.TryParse(user.AsSpan(first.Length + GenerationMark.Length), NumberStyles.None, CultureInfo.InvariantCulture, out _);
    }
}
