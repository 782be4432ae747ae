using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Portal.Data;

namespace Portal.Migrations;

/// <summary>Run once before the web and worker hosts: migrate the schema, seed, exit.</summary>
public static class MigratorProgram
{
    public static async Task Main(string[] args)
    {
        await RunAsync(args);
        Console.WriteLine("Portal database is up to date.");
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
