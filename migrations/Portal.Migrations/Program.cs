using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Portal.Data;

namespace Portal.Migrations;

/// <summary>Run once before the web and worker hosts: migrate the schema, seed, exit.</summary>
public static class MigratorProgram
{
    /// <summary>Exits with one of <see cref="MigratorExitCodes"/> and, on failure, one line on standard error that says why.</summary>
    public static async Task<int> Main(string[] args)
    {
        try
        {
            await RunAsync(args);
        }
        catch (MigratorFailureException e)
        {
            await Console.Error.WriteLineAsync($"Portal migrator failed (exit {e.ExitCode}): {e.OneLine()}");
            return e.ExitCode;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"Portal migrator failed (exit {MigratorExitCodes.Unexpected}): {e.GetType().Name}: {e.Message.Split('\n', 2)[0]}");
            return MigratorExitCodes.Unexpected;
        }

        Console.WriteLine("Portal database is up to date.");
        return MigratorExitCodes.Succeeded;
    }

    /// <summary>The migrator as a host; <paramref name="overrides"/> win over every other setting (tests use them).</summary>
    public static async Task RunAsync(string[] args, IEnumerable<KeyValuePair<string, string?>>? overrides = null, CancellationToken ct = default)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.Configuration.AddPortalSettings();
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.AddPortalData();
        builder.AddPortalMigrator();

        using var host = builder.Build();
        await PortalMigrator.RunAsync(host.Services, ct);
    }
}
