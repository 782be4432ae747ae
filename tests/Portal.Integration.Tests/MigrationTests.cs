using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Portal.Data;
using Portal.Migrations;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// The migrations make exactly the schema of the model: an empty database migrated by them and one created from the
/// model (plus the hand-written audit SQL) have the same tables, columns, indexes, constraints, triggers and functions,
/// and the model has no change the migrations lack.
/// </summary>
public sealed class MigrationTests : IAsyncLifetime
{
    private readonly List<string> _databases = [];

    [Fact]
    public async Task Migrate_EmptyDatabase_HasTheSchemaOfTheModel()
    {
        var migrated = await CreateDatabaseAsync("migrated");
        await using (var db = Context(migrated))
        {
            await db.Database.MigrateAsync(TestContext.Current.CancellationToken);
        }

        var fromModel = await CreateDatabaseAsync("model");
        await using (var db = Context(fromModel))
        {
            await db.Database.EnsureCreatedAsync(TestContext.Current.CancellationToken);
            await db.Database.ExecuteSqlRawAsync(AuditTrailSql.Create, TestContext.Current.CancellationToken);
        }

        var expected = await SchemaAsync(fromModel);
        var actual = await SchemaAsync(migrated);
        var missing = expected.Except(actual).ToList();
        var extra = actual.Except(expected).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"The migrated schema differs from the model's.\nMissing after migrating:\n  {string.Join("\n  ", missing)}\n" +
            $"Only after migrating:\n  {string.Join("\n  ", extra)}");

        // The comparison is not vacuous: the model's tables and the audit chain's SQL are there.
        Assert.Contains(actual, line => line.StartsWith("column Instances.Id ", StringComparison.Ordinal));
        Assert.Contains(actual, line => line.StartsWith("trigger AuditEvents.audit_chain ", StringComparison.Ordinal));
        Assert.Contains(actual, line => line.StartsWith("function portal_audit_digest ", StringComparison.Ordinal));
        Assert.True(actual.Count > 300, $"only {actual.Count} schema objects were read");
    }

    [Fact]
    public async Task Model_HasNoChangeTheMigrationsLack()
    {
        await using var db = Context(TestEnvironment.PortalServer);
        Assert.False(db.Database.HasPendingModelChanges(),
            "The model differs from the migrations' snapshot: add a migration (dotnet ef migrations add <Name> --project migrations/Portal.Migrations).");
        Assert.EndsWith("_Initial", db.Database.GetMigrations().First(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrator_DatabaseOfTheSquashedMigrations_IsRecordedAsTheBaseline()
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await CreateDatabaseAsync("squashed");
        await using var db = Context(database);
        var baseline = db.Database.GetMigrations().First();
        await db.GetService<IMigrator>().MigrateAsync(baseline, ct);
        // A development database of the first wave: the baseline's schema under the 16 old migration ids.
        await ExecuteAsync(database, """
            DELETE FROM "__EFMigrationsHistory";
            INSERT INTO "__EFMigrationsHistory" VALUES ('20261125172130_Initial', '10.0.0'), ('20261125182533_AuditTrail', '10.0.0'),
                ('20261126001224_BindingRotatedAt', '10.0.0');
            """);

        await PreBaselineHistory.AdoptAsync(db, NullLogger.Instance, ct);

        Assert.Equal([baseline], await db.Database.GetAppliedMigrationsAsync(ct));
        await db.Database.MigrateAsync(ct); // the migrations made since the baseline
        Assert.Empty(await db.Database.GetPendingMigrationsAsync(ct));
    }

    [Fact]
    public async Task Migrator_DatabaseHalfWayThroughTheSquashedMigrations_IsRefusedWithWhatToDo()
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await CreateDatabaseAsync("halfway");
        await ExecuteAsync(database, """
            CREATE TABLE "__EFMigrationsHistory" ("MigrationId" varchar(150) PRIMARY KEY, "ProductVersion" varchar(32) NOT NULL);
            INSERT INTO "__EFMigrationsHistory" VALUES ('20261125172130_Initial', '10.0.0'), ('20261125182533_AuditTrail', '10.0.0');
            """);
        await using var db = Context(database);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => PreBaselineHistory.AdoptAsync(db, NullLogger.Instance, ct));

        Assert.Contains("20261125182533_AuditTrail", error.Message);
        Assert.Contains("Start from an empty database", error.Message);
        Assert.Equal(["20261125172130_Initial", "20261125182533_AuditTrail"], (await db.Database.GetAppliedMigrationsAsync(ct)).Order());
    }

    /// <summary>One line per schema object of the public schema, comparable between databases.</summary>
    private static async Task<HashSet<string>> SchemaAsync(string connectionString)
    {
        const string history = "__EFMigrationsHistory";
        string[] queries =
        [
            $"""
            SELECT 'column ' || table_name || '.' || column_name || ' ' || udt_name || coalesce('(' || character_maximum_length || ')', '') ||
                   ' nullable=' || is_nullable || ' default=' || coalesce(column_default, '-') || ' identity=' || coalesce(identity_generation, '-')
            FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '{history}'
            """,
            $"""
            SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ' ' || pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> '"{history}"'
            """,
            $"SELECT 'index ' || tablename || '.' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '{history}'",
            "SELECT 'trigger ' || tgrelid::regclass::text || '.' || tgname || ' ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
            "SELECT 'function ' || proname || ' ' || pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
            "SELECT 'sequence ' || sequence_name || ' ' || data_type FROM information_schema.sequences WHERE sequence_schema = 'public'",
        ];
        var lines = new HashSet<string>(StringComparer.Ordinal);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        foreach (var sql in queries)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                // regclass prints quoted names ("AuditEvents"); the comparison wants them plain.
                lines.Add(reader.GetString(0).Replace("\"", "", StringComparison.Ordinal).ReplaceLineEndings(" "));
            }
        }

        return lines;
    }

    private static PortalDbContext Context(string connectionString)
    {
        var options = new DbContextOptionsBuilder<PortalDbContext>();
        options.UsePortalDatabase(connectionString);
        return new PortalDbContext(options.Options);
    }

    private async Task<string> CreateDatabaseAsync(string purpose)
    {
        var name = $"portal_migration_{purpose}_{Guid.NewGuid():N}";
        await ExecuteAsync(TestEnvironment.PortalServer, $"CREATE DATABASE \"{name}\"");
        _databases.Add(name);
        return new NpgsqlConnectionStringBuilder(TestEnvironment.PortalServer) { Database = name }.ConnectionString;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        foreach (var name in _databases)
        {
            await ExecuteAsync(TestEnvironment.PortalServer, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        }
    }
}
