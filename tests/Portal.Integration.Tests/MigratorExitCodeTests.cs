using System.Diagnostics;
using Npgsql;
using Portal.Migrations;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// The migrator process (as systemd or a Kubernetes Job runs it) ends with a documented exit code and one line on
/// standard error that says what failed: an unreachable database, a migration that fails on a real PostgreSQL, a missing
/// setting; and 0 on a fresh database.
/// </summary>
public sealed class MigratorExitCodeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Migrator_DatabaseUnreachable_Exits3WithOneLine()
    {
        var (code, stderr) = await RunMigratorAsync($"Host=127.0.0.1;Port={ClosedPort()};Database=portal;Username=portal;Password=not-a-real-secret-42;Timeout=3");
        Assert.Equal(MigratorExitCodes.DatabaseUnreachable, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Portal migrator failed (exit 3): The database cannot be reached", line);
        Assert.DoesNotContain("not-a-real-secret-42", line);
    }

    [Fact]
    public async Task Migrator_NoConnectionString_Exits2()
    {
        var (code, stderr) = await RunMigratorAsync("");
        Assert.Equal(MigratorExitCodes.Settings, code);
        Assert.Contains("ConnectionStrings:Portal is not set", stderr);
    }

    [Fact]
    public async Task Migrator_MigrationFails_Exits4_ThenAFreshDatabaseExits0()
    {
        var database = $"portal_migrator_{Guid.NewGuid():N}";
        await using var admin = new NpgsqlConnection(TestEnvironment.PortalServer);
        await admin.OpenAsync(Ct);
        await using (var create = new NpgsqlCommand($"""CREATE DATABASE "{database}" """, admin))
        {
            await create.ExecuteNonQueryAsync(Ct);
        }

        var connectionString = new NpgsqlConnectionStringBuilder(TestEnvironment.PortalServer) { Database = database, Pooling = false }.ConnectionString;
        try
        {
            // A table of the first migration that is already there, as someone made it by hand: the migration fails.
            await using (var connection = new NpgsqlConnection(connectionString))
            {
                await connection.OpenAsync(Ct);
                await using var squat = new NpgsqlCommand("""CREATE TABLE "Teams" (squatter int)""", connection);
                await squat.ExecuteNonQueryAsync(Ct);
            }

            var (code, stderr) = await RunMigratorAsync(connectionString);
            Assert.True(code == MigratorExitCodes.MigrationFailed, $"exit {code}: {stderr}");
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("Portal migrator failed (exit 4): A migration failed", line);
            Assert.Contains("42P07", line); // relation already exists

            await using (var connection = new NpgsqlConnection(connectionString))
            {
                await connection.OpenAsync(Ct);
                await using var drop = new NpgsqlCommand("""DROP TABLE "Teams" """, connection);
                await drop.ExecuteNonQueryAsync(Ct);
            }

            var (fresh, freshErrors) = await RunMigratorAsync(connectionString);
            Assert.True(fresh == MigratorExitCodes.Succeeded, $"exit {fresh}: {freshErrors}");
        }
        finally
        {
            await using var drop = new NpgsqlCommand($"""DROP DATABASE IF EXISTS "{database}" WITH (FORCE)""", admin);
            await drop.ExecuteNonQueryAsync(Ct);
        }
    }

    /// <summary>The migrator built beside the tests, run as its own process with this connection string.</summary>
    private static async Task<(int ExitCode, string StandardError)> RunMigratorAsync(string connectionString)
    {
        var dll = Path.Combine(Path.GetDirectoryName(typeof(MigratorProgram).Assembly.Location)!, "Portal.Migrations.dll");
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.Environment["ConnectionStrings__Portal"] = connectionString;
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "None";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        await stdout;
        return (process.ExitCode, await stderr);
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
