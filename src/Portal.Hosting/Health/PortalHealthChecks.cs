using Hangfire;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Portal.Data;

namespace Portal.Hosting.Health;

// What "ready" means for a host: each check says what failed in words that reveal nothing (no host name, connection
// string or exception text: the endpoints are anonymous). The exception goes to the log, where operators read it.

/// <summary>The portal's database answers a query.</summary>
public sealed class DatabaseHealthCheck(IDbContextFactory<PortalDbContext> dbFactory) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await db.Database.ExecuteSqlRawAsync("SELECT 1", cancellationToken);
            return HealthCheckResult.Healthy("The database answers.");
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The database does not answer.", e);
        }
    }
}

/// <summary>The database holds this build's newest migration (run the migrator when it does not).</summary>
public sealed class SchemaHealthCheck(IDbContextFactory<PortalDbContext> dbFactory) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        List<string> applied;
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            applied = await db.Database.SqlQueryRaw<string>("""SELECT "MigrationId" AS "Value" FROM "__EFMigrationsHistory" """)
                .ToListAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return new HealthCheckResult(context.Registration.FailureStatus,
                $"The database has no schema; run the migrator (expected migration {ExpectedSchema.LatestMigration}).");
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The schema cannot be read: the database does not answer.", e);
        }

        var expected = ExpectedSchema.LatestMigration;
        if (!applied.Contains(expected, StringComparer.Ordinal))
        {
            var newest = applied.Count == 0 ? "none" : applied.Max(StringComparer.Ordinal);
            return new HealthCheckResult(context.Registration.FailureStatus,
                $"The schema is behind this build: its newest migration is {newest}, this build expects {expected}; run the migrator.");
        }

        // A newer schema is normal during an upgrade (the migrator runs before the hosts are replaced); migrations keep the
        // previous release working, so this host stays ready.
        var newer = applied.Where(id => string.CompareOrdinal(id, expected) > 0).ToList();
        return HealthCheckResult.Healthy(newer.Count == 0
            ? $"The schema is at {expected}."
            : $"The schema is at {expected} and has {newer.Count} newer migration(s) of a later release.");
    }
}

/// <summary>The Data Protection key ring can be read and used: a protect/unprotect round trip.</summary>
public sealed class KeyRingHealthCheck(IDataProtectionProvider dataProtection) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var protector = dataProtection.CreateProtector("Portal.Health.KeyRing");
            var probe = Guid.NewGuid().ToString("N");
            return Task.FromResult(protector.Unprotect(protector.Protect(probe)) == probe
                ? HealthCheckResult.Healthy("The key ring protects and unprotects.")
                : new HealthCheckResult(context.Registration.FailureStatus, "The key ring gave back other data."));
        }
        catch (Exception e)
        {
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus,
                "The key ring cannot be read (its database, or the certificate that decrypts it).", e));
        }
    }
}

/// <summary>Hangfire's storage (its schema in the portal's database) answers.</summary>
public sealed class JobStorageHealthCheck(JobStorage storage) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // Hangfire's storage API is synchronous; one indexed count.
            using var connection = storage.GetConnection();
            if (connection is Hangfire.Storage.JobStorageConnection counting)
            {
                counting.GetSetCount("recurring-jobs");
            }
            else
            {
                connection.GetAllItemsFromSet("recurring-jobs");
            }
            return Task.FromResult(HealthCheckResult.Healthy("The job storage answers."));
        }
        catch (Exception e)
        {
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, "The job storage does not answer.", e));
        }
    }
}
