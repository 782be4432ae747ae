using Npgsql;

namespace Portal.Provisioning.Tests;

/// <summary>The real PostgreSQL backend the integration tests run against.</summary>
internal static class TestBackend
{
    public const string EnvironmentVariable = "PORTAL_TEST_PG_BACKEND";

    /// <summary>The admin endpoint from <see cref="EnvironmentVariable"/>; fails the test when it is missing.</summary>
    public static BackendEndpoint Endpoint
    {
        get
        {
            var value = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (string.IsNullOrWhiteSpace(value))
            {
                // Fail, never skip: a green run must mean the driver really worked against PostgreSQL.
                Assert.Fail(
                    $"{EnvironmentVariable} is not set: run `ops/portal test`, which installs PostgreSQL " +
                    "(apt-get install postgresql) and starts a private backend cluster. Expected an Npgsql " +
                    "connection string like Host=127.0.0.1;Port=55999;Username=postgres;Password=secret.");
            }

            var builder = new NpgsqlConnectionStringBuilder(value);
            return new BackendEndpoint(
                builder.Host ?? "127.0.0.1",
                builder.Port,
                builder.Username ?? "postgres",
                builder.Password ?? string.Empty);
        }
    }

    /// <summary>Opens an unpooled connection as the admin.</summary>
    public static Task<NpgsqlConnection> OpenAdminAsync(string database = "postgres")
    {
        var backend = Endpoint;
        return OpenAsync(backend.Host, backend.Port, backend.AdminUser, backend.AdminPassword, database);
    }

    /// <summary>Opens an unpooled connection with a binding's credentials.</summary>
    public static Task<NpgsqlConnection> OpenAsync(BindingCredentials credentials, string? database = null)
    {
        var values = credentials.Values;
        return OpenAsync(values["host"], int.Parse(values["port"], System.Globalization.CultureInfo.InvariantCulture),
            values["username"], values["password"], database ?? values["database"]);
    }

    public static async Task<NpgsqlConnection> OpenAsync(
        string host, int port, string user, string password, string database)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = host,
            Port = port,
            Username = user,
            Password = password,
            Database = database,
            // Pooled connections would hide terminated sessions and keep databases busy.
            Pooling = false,
        };
        var conn = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await conn.OpenAsync(TestContext.Current.CancellationToken);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a scalar query as the admin.</summary>
    public static async Task<T?> AdminScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var conn = await OpenAdminAsync();
        return await ScalarAsync<T>(conn, sql, parameters);
    }

    public static async Task<T?> ScalarAsync<T>(NpgsqlConnection conn, string sql, params object[] parameters)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var parameter in parameters)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var result = await cmd.ExecuteScalarAsync(TestContext.Current.CancellationToken);
        return result is null or DBNull ? default : (T)result;
    }

    public static async Task ExecuteAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }
}
