using Hangfire.PostgreSql;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Portal.Data;

namespace Portal.Migrations;

/// <summary>Brings a database to the current schema — the portal's tables and Hangfire's — then seeds it.</summary>
public static class PortalMigrator
{
    public const string HangfireSchema = "hangfire";

    public static async Task RunAsync(IServiceProvider services, CancellationToken ct = default)
    {
        using var scope = services.CreateScope();
        var logger = scope.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Portal.Migrations");
        await using (var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync(ct))
        {
            await PreBaselineHistory.AdoptAsync(db, logger, ct);
            var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
            logger.LogInformation("Applying {Count} migration(s): {Migrations}", pending.Count, string.Join(", ", pending));
            await db.Database.MigrateAsync(ct);

            await using var connection = new NpgsqlConnection(db.Database.GetConnectionString());
            await connection.OpenAsync(ct);
            PostgreSqlObjectsInstaller.Install(connection, HangfireSchema);
            logger.LogInformation("Hangfire schema '{Schema}' is current", HangfireSchema);
        }

        await scope.ServiceProvider.GetRequiredService<PortalSeeder>().SeedAsync(ct);
    }
}
