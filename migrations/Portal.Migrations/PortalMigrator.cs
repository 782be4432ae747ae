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
        await using (var db = await CreateAsync(scope.ServiceProvider, ct))
        {
            try
            {
                await MigrateAsync(db, logger, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw MigratorFailureException.IsUnreachable(e)
                    ? new MigratorFailureException(MigratorExitCodes.DatabaseUnreachable, "The database went away while migrating", e)
                    : new MigratorFailureException(MigratorExitCodes.MigrationFailed, "A migration failed", e);
            }
        }

        try
        {
            await scope.ServiceProvider.GetRequiredService<PortalSeeder>().SeedAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw MigratorFailureException.IsUnreachable(e)
                ? new MigratorFailureException(MigratorExitCodes.DatabaseUnreachable, "The database went away while seeding", e)
                : new MigratorFailureException(MigratorExitCodes.SeedingFailed, "Seeding failed", e);
        }
    }

    /// <summary>A context whose database answered: the settings and the server are checked before anything runs.</summary>
    private static async Task<PortalDbContext> CreateAsync(IServiceProvider services, CancellationToken ct)
    {
        PortalDbContext? db = null;
        try
        {
            db = await services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync(ct);
            await db.Database.OpenConnectionAsync(ct);
            await db.Database.CloseConnectionAsync();
            return db;
        }
        catch (Exception e) when (ConnectFailure(e) is { } failure)
        {
            if (db is not null)
            {
                await db.DisposeAsync();
            }

            throw failure;
        }
    }

    private static MigratorFailureException? ConnectFailure(Exception e) => e switch
    {
        _ when MigratorFailureException.IsUnreachable(e) => new MigratorFailureException(MigratorExitCodes.DatabaseUnreachable, "The database cannot be reached", e),
        ArgumentException => new MigratorFailureException(MigratorExitCodes.Settings, "The connection string ConnectionStrings:Portal is not valid", e),
        InvalidOperationException => new MigratorFailureException(MigratorExitCodes.Settings, "A setting is missing or wrong", e),
        _ => null,
    };

    private static async Task MigrateAsync(PortalDbContext db, ILogger logger, CancellationToken ct)
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
}
