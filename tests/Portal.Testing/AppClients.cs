using System.Globalization;
using Npgsql;

namespace Portal.Testing;

/// <summary>Clients built from a binding's credentials the way an app builds them, for tests that prove a binding works.</summary>
public static class AppClients
{
    /// <summary>
    /// Opens an unpooled PostgreSQL connection with TLS verified against the binding's <c>ca.crt</c> alone, signed in
    /// by the password and/or the client certificate (<c>tls.crt</c>, <c>tls.key</c>) the binding has. The PEM values
    /// are written to a temporary folder, as a binding directory would hold them, and removed again.
    /// </summary>
    /// <param name="credential">The binding's value for a key, or null when it has none.</param>
    public static async Task<NpgsqlConnection> OpenPostgresAsync(Func<string, string?> credential, CancellationToken ct)
    {
        string Require(string key) => credential(key) ?? throw new ArgumentException($"The binding has no '{key}'.", nameof(credential));
        var folder = Directory.CreateTempSubdirectory("binding-");
        try
        {
            string Write(string key)
            {
                var path = Path.Combine(folder.FullName, key);
                File.WriteAllText(path, Require(key));
                return path;
            }

            var builder = new NpgsqlConnectionStringBuilder
            {
                Host = Require("host"),
                Port = int.Parse(Require("port"), CultureInfo.InvariantCulture),
                Database = Require("database"),
                Username = Require("username"),
                Password = credential("password"),
                SslMode = SslMode.VerifyFull,
                RootCertificate = Write("ca.crt"),
                // Pooled connections would hide sessions the server ended.
                Pooling = false,
            };
            if (credential("tls.crt") is not null)
            {
                builder.SslCertificate = Write("tls.crt");
                builder.SslKey = Write("tls.key");
            }

            var connection = new NpgsqlConnection(builder.ConnectionString);
            try
            {
                await connection.OpenAsync(ct);
                return connection;
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
