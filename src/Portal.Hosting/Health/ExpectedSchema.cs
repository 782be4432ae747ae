using System.Reflection;

namespace Portal.Hosting.Health;

/// <summary>
/// The migrations this build was made with, read from the migrations project's files at build time (see
/// Portal.Hosting.csproj): the hosts do not load the migrations assembly, yet must know the schema they expect.
/// </summary>
public static class ExpectedSchema
{
    /// <summary>Every migration id of this build, oldest first (ids start with their UTC timestamp).</summary>
    public static IReadOnlyList<string> Migrations { get; } = Read();

    /// <summary>The newest migration: a database without it is behind this build.</summary>
    public static string LatestMigration => Migrations[^1];

    private static List<string> Read()
    {
        var value = typeof(ExpectedSchema).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "PortalMigrations")?.Value;
        var ids = (value ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Order(StringComparer.Ordinal).ToList();
        return ids.Count > 0
            ? ids
            : throw new InvalidOperationException("This build knows no migration: Portal.Hosting was built without migrations/Portal.Migrations/Migrations.");
    }
}
