using Microsoft.Extensions.Hosting;
using Portal.Data;

namespace Portal.Migrations;

/// <summary>Run once before the web and worker hosts: migrate the schema, seed, exit.</summary>
internal static class MigratorProgram
{
    public static async Task Main(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.Configuration.AddPortalSettings();
        builder.AddPortalData();
        builder.AddPortalMigrator();

        using var host = builder.Build();
        await PortalMigrator.RunAsync(host.Services);
        Console.WriteLine("Portal database is up to date.");
    }
}
