using Npgsql;

namespace Portal.Migrations;

/// <summary>
/// The migrator's exit codes, for the systemd unit, the Kubernetes Job and scripts that run it before the hosts:
/// 0 the database is up to date; 1 an unexpected error; 2 a setting is missing or wrong; 3 the database cannot be
/// reached (down, wrong address, refused login, no such database); 4 a migration failed (the schema is left at the last
/// migration that completed: each migration runs in its own transaction); 5 the seeding failed.
/// </summary>
public static class MigratorExitCodes
{
    public const int Succeeded = 0;
    public const int Unexpected = 1;
    public const int Settings = 2;
    public const int DatabaseUnreachable = 3;
    public const int MigrationFailed = 4;
    public const int SeedingFailed = 5;
}

/// <summary>A failure of one step of the migrator, with its exit code and a one-line message for the operator.</summary>
public sealed class MigratorFailureException(int exitCode, string message, Exception inner) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>The cause in one line: what failed, then the first line of each inner error (they name no secret).</summary>
    public string OneLine()
    {
        var causes = new List<string>();
        for (var e = InnerException; e is not null && causes.Count < 3; e = e.InnerException)
        {
            causes.Add($"{e.GetType().Name}: {FirstLine(e.Message)}");
        }

        return $"{Message} ({string.Join(" <- ", causes)})";
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    /// <summary>Whether an error means the server was not reached or refused the session (as opposed to a failing statement).</summary>
    public static bool IsUnreachable(Exception e) => e switch
    {
        // 28xxx: authentication; 3D000: no such database; 57P03: the server is starting up or shutting down.
        PostgresException p => p.SqlState.StartsWith("28", StringComparison.Ordinal) || p.SqlState is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.CannotConnectNow,
        NpgsqlException => true,
        TimeoutException => true,
        InvalidOperationException { InnerException: { } inner } => IsUnreachable(inner),
        _ => false,
    };
}
