using System.Globalization;
using Npgsql;

namespace Portal.Provisioning.Tests;

/// <summary>The real PostgreSQL backend the integration tests run against.</summary>
internal static class TestBackend
{
    public const string EnvironmentVariable = "PORTAL_TEST_PG_BACKEND";

    /// <summary>The admin connection string from <see cref="EnvironmentVariable"/>; fails the test when it is missing.</summary>
    private static NpgsqlConnectionStringBuilder AdminSettings
    {
        get
        {
            var value = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (string.IsNullOrWhiteSpace(value))
            {
                // Fail, never skip: a green run must mean the driver really worked against PostgreSQL.
                Assert.Fail(
                    $"{EnvironmentVariable} is not set: run `ops/portal test`, which installs PostgreSQL " +
                    "(apt-get install postgresql) and starts a private backend cluster with TLS (ops/lib/pg.sh " +
                    "pg_enable_tls). Expected an Npgsql connection string like Host=127.0.0.1;Port=55999;Username=postgres;" +
                    "Password=secret;SSL Mode=VerifyFull;Root Certificate=/tmp/dev-ca/ca.crt.");
            }

            return new NpgsqlConnectionStringBuilder(value);
        }
    }

    /// <summary>
    /// The admin endpoint from <see cref="EnvironmentVariable"/>: a TLS backend (<c>tls=true</c>, trusting
    /// <see cref="TestBackends.Ca"/>) when the connection string verifies the server (<c>SSL Mode=VerifyFull</c>).
    /// </summary>
    public static BackendEndpoint Endpoint
    {
        get
        {
            var builder = AdminSettings;
            var endpoint = new BackendEndpoint(
                builder.Host ?? "127.0.0.1",
                builder.Port,
                builder.Username ?? "postgres",
                builder.Password ?? string.Empty);
            return builder.SslMode is SslMode.VerifyFull or SslMode.VerifyCA
                ? endpoint with { Settings = new Dictionary<string, string> { ["tls"] = "true" }, PlatformCa = TestBackends.Ca }
                : endpoint;
        }
    }

    /// <summary>The TLS backend; fails the test, naming the setup step, when the test cluster does not serve TLS.</summary>
    public static BackendEndpoint TlsEndpoint
    {
        get
        {
            var endpoint = Endpoint;
            if (!endpoint.Tls)
            {
                Assert.Fail(
                    $"{EnvironmentVariable} does not verify TLS (SSL Mode=VerifyFull): run `ops/portal test`, which serves the " +
                    "backend cluster with TLS (ops/lib/pg.sh pg_enable_tls DIR CA_DIR; pg_conn_tls DIR CA_DIR).");
            }

            return endpoint;
        }
    }

    /// <summary>Opens an unpooled connection as the admin (over TLS when the connection string says so).</summary>
    public static async Task<NpgsqlConnection> OpenAdminAsync(string database = "postgres")
    {
        var builder = AdminSettings;
        builder.Database = database;
        // Pooled connections would hide terminated sessions and keep databases busy.
        builder.Pooling = false;
        return await OpenAsync(builder);
    }

    /// <summary>
    /// Opens an unpooled connection with a binding's credentials as an app would: the files <c>ca.crt</c>, <c>tls.crt</c>
    /// and <c>tls.key</c> in a binding directory, verify-full TLS when there is a <c>ca.crt</c>.
    /// </summary>
    public static async Task<NpgsqlConnection> OpenAsync(BindingCredentials credentials, string? database = null)
    {
        var values = credentials.Values;
        var directory = Directory.CreateTempSubdirectory("pg-binding-");
        try
        {
            var builder = new NpgsqlConnectionStringBuilder
            {
                Host = values["host"],
                Port = int.Parse(values["port"], CultureInfo.InvariantCulture),
                Username = values["username"],
                Password = values.GetValueOrDefault("password"),
                Database = database ?? values["database"],
                Pooling = false,
                // Without TLS in the credentials, no TLS: proves the server accepts what the binding says.
                SslMode = SslMode.Disable,
            };
            if (values.TryGetValue("ca.crt", out var ca))
            {
                builder.SslMode = SslMode.VerifyFull;
                builder.RootCertificate = Write(directory, "ca.crt", ca);
            }

            if (values.TryGetValue("tls.crt", out var certificate))
            {
                builder.SslCertificate = Write(directory, "tls.crt", certificate);
                builder.SslKey = Write(directory, "tls.key", values["tls.key"]);
            }

            return await OpenAsync(builder);
        }
        finally
        {
            // Npgsql reads the files while it opens the connection; nothing of a binding stays on disk.
            directory.Delete(recursive: true);
        }
    }

    /// <summary>The credentials with some values replaced (or, with a null value, removed).</summary>
    public static BindingCredentials With(this BindingCredentials credentials, params (string Key, string? Value)[] changes)
    {
        var values = new OrderedDictionary<string, string>(credentials.Values);
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                values.Remove(key);
            }
            else
            {
                values[key] = value;
            }
        }

        return new BindingCredentials(values);
    }

    private static string Write(DirectoryInfo directory, string name, string content)
    {
        var path = Path.Combine(directory.FullName, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static async Task<NpgsqlConnection> OpenAsync(NpgsqlConnectionStringBuilder builder)
    {
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
