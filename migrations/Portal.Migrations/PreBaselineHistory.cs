using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Logging;
using Npgsql;
using Portal.Data;

namespace Portal.Migrations;

/// <summary>
/// The 16 migrations of the first wave were squashed into one baseline (<c>Initial</c>) before any database
/// outside development held them. A development database migrated by all of them has exactly the baseline's
/// schema, so its history is rewritten to say so; one that stopped half-way is refused with what to do.
/// </summary>
internal static class PreBaselineHistory
{
    /// <summary>The last migration before the squash: a database that has it is at the baseline.</summary>
    public const string LastSquashedMigration = "20261126001224_BindingRotatedAt";

    /// <summary>The first squashed migration's id prefix (all of them were made on 2026-11-25 and 26).</summary>
    private const string SquashedPrefix = "202611";

    public static async Task AdoptAsync(PortalDbContext db, ILogger logger, CancellationToken ct)
    {
        var baseline = db.Database.GetMigrations().First();
        await using var connection = new NpgsqlConnection(db.Database.GetConnectionString());
        await connection.OpenAsync(ct);
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('\"__EFMigrationsHistory\"') IS NOT NULL", connection))
        {
            if (!(bool)(await exists.ExecuteScalarAsync(ct))!)
            {
                return;
            }
        }

        var applied = new List<string>();
        await using (var read = new NpgsqlCommand("""SELECT "MigrationId" FROM "__EFMigrationsHistory" """, connection))
        await using (var reader = await read.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                applied.Add(reader.GetString(0));
            }
        }

        var squashed = applied.Where(id => id.StartsWith(SquashedPrefix, StringComparison.Ordinal)).ToList();
        if (squashed.Count == 0 || applied.Contains(baseline))
        {
            return;
        }

        if (!squashed.Contains(LastSquashedMigration))
        {
            throw new InvalidOperationException(
                $"This database holds an unfinished development schema (its last migration is {squashed.Max()}), made before the " +
                $"migrations were squashed into '{baseline}'. Start from an empty database (delete the data folder of `ops/portal up`).");
        }

        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var rewrite = new NpgsqlCommand(
            """DELETE FROM "__EFMigrationsHistory"; INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion") VALUES (@id, @version)""",
            connection, tx))
        {
            rewrite.Parameters.AddWithValue("id", baseline);
            rewrite.Parameters.AddWithValue("version", ProductInfo.GetVersion());
            await rewrite.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        logger.LogInformation("Recorded the {Count} squashed migrations as the baseline {Baseline}", squashed.Count, baseline);
    }
}
