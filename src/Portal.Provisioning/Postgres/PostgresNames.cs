namespace Portal.Provisioning.Postgres;

/// <summary>
/// Backend object names of a PostgreSQL instance. They derive from ids only (never from user text), so they
/// are stable across retries, lowercase (no quoting surprises) and well below the 63-byte identifier limit.
/// </summary>
public static class PostgresNames
{
    /// <summary>Prefix of every binding login role.</summary>
    public const string BindingRolePrefix = "pb_";

    /// <summary>The instance's database, <c>pi_&lt;id&gt;</c>.</summary>
    public static string Database(Guid instanceId) => $"pi_{instanceId:N}";

    /// <summary>The NOLOGIN role that owns the instance's database and everything in it.</summary>
    public static string OwnerRole(Guid instanceId) => $"pi_{instanceId:N}_owner";

    /// <summary>The login role of one binding's generation 0, <c>pb_&lt;id&gt;</c>.</summary>
    public static string BindingRole(Guid bindingId) => $"{BindingRolePrefix}{bindingId:N}";

    /// <summary>
    /// The login role of one generation of a binding's credentials: <c>pb_&lt;id&gt;</c> for generation 0 (the name
    /// bindings always had), <c>pb_&lt;id&gt;_g&lt;n&gt;</c> after the n-th rotation (at most 47 bytes).
    /// </summary>
    public static string BindingRole(Guid bindingId, int generation)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(generation);
        return generation == 0 ? BindingRole(bindingId) : $"{BindingRole(bindingId)}{GenerationSeparator}{generation}";
    }

    /// <summary>What follows <see cref="BindingRole(Guid)"/> in the names of generations 1 and later.</summary>
    public const string GenerationSeparator = "_g";

    /// <summary>The binding and generation of a name <see cref="BindingRole(Guid, int)"/> makes; null for any other name.</summary>
    public static BindingGeneration? ParseBindingRole(string role) =>
        BindingNames.Parse(role, BindingRolePrefix, GenerationSeparator);
}
