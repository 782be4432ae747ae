using Microsoft.EntityFrameworkCore;
using Npgsql;
using Portal.Data;

namespace Portal.Application.Operations;

/// <summary>
/// A PostgreSQL session advisory lock on its own unpooled connection: released when disposed, or by the
/// server when the worker dies. (A pooled connection would keep the session, and the lock, alive.)
/// </summary>
public sealed class InstanceLock : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly long _key;

    private InstanceLock(NpgsqlConnection connection, long key)
    {
        _connection = connection;
        _key = key;
    }

    public static async Task<InstanceLock> AcquireAsync(PortalDbContext db, Guid instanceId, CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder(db.Database.GetConnectionString()) { Pooling = false };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(ct);
        var key = KeyOf(instanceId);
        await using var command = new NpgsqlCommand("SELECT pg_advisory_lock($1)", connection);
        command.Parameters.AddWithValue(key);
        await command.ExecuteNonQueryAsync(ct);
        return new InstanceLock(connection, key);
    }

    /// <summary>The lock if no one holds it now, else null (a job is running an operation of the instance).</summary>
    public static async Task<InstanceLock?> TryAcquireAsync(PortalDbContext db, Guid instanceId, CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder(db.Database.GetConnectionString()) { Pooling = false };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(ct);
        var key = KeyOf(instanceId);
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection);
        command.Parameters.AddWithValue(key);
        if ((bool)(await command.ExecuteScalarAsync(ct))!)
        {
            return new InstanceLock(connection, key);
        }

        await connection.DisposeAsync();
        return null;
    }

    private static long KeyOf(Guid instanceId) => BitConverter.ToInt64(instanceId.ToByteArray(), 8);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", _connection);
            command.Parameters.AddWithValue(_key);
            await command.ExecuteNonQueryAsync();
        }
        finally
        {
            await _connection.DisposeAsync();
        }
    }
}
