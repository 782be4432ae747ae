using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using dotnet_etcd;
using Portal.Testing;
using RabbitMQ.Client;
using StackExchange.Redis;

namespace Portal.Integration.Tests;

/// <summary>
/// Clients built from a binding's credentials the way an app builds them (trusting the binding's <c>ca.crt</c> alone), and
/// a round trip per kind that proves a binding works.
/// </summary>
internal static class AppConnections
{
    public static string Value(JsonNode credentials, string key) => credentials[key]!.GetValue<string>();

    /// <summary>A server certificate check that trusts <paramref name="ca"/> alone, as an app given only ca.crt does.</summary>
    public static bool TrustsOnly(X509Certificate2 ca, X509Certificate? certificate) =>
        Portal.Provisioning.Certificates.CertificateAuthority.ChainsTo(ca, certificate);

    /// <summary>An etcd gRPC client: ca.crt the only trusted root, tls.crt/tls.key, user and password.</summary>
    public static EtcdClient Etcd(JsonNode credentials)
    {
        var ca = X509Certificate2.CreateFromPem(Value(credentials, "ca.crt"));
        var certificate = X509Certificate2.CreateFromPem(Value(credentials, "tls.crt"), Value(credentials, "tls.key"));
        return new EtcdClient(Value(credentials, "endpoints"), Value(credentials, "username"), Value(credentials, "password"),
            configureChannelOptions: options =>
            {
                options.Credentials = Grpc.Core.ChannelCredentials.SecureSsl;
                options.HttpHandler = new SocketsHttpHandler
                {
                    SslOptions =
                    {
                        ClientCertificates = [certificate],
                        RemoteCertificateValidationCallback = (_, server, _, _) => TrustsOnly(ca, server),
                    },
                };
            });
    }

    /// <summary>An AMQPS connection factory for the binding's uri.</summary>
    public static ConnectionFactory RabbitMq(JsonNode credentials)
    {
        var ca = X509Certificate2.CreateFromPem(Value(credentials, "ca.crt"));
        var factory = new ConnectionFactory { Uri = new Uri(Value(credentials, "uri")), AutomaticRecoveryEnabled = false };
        factory.Ssl.CertificateValidationCallback = (_, certificate, _, _) => TrustsOnly(ca, certificate);
        return factory;
    }

    /// <summary>Redis options over TLS as the binding's user.</summary>
    public static ConfigurationOptions Redis(JsonNode credentials)
    {
        var options = new ConfigurationOptions
        {
            EndPoints = { { Value(credentials, "host"), int.Parse(Value(credentials, "port"), CultureInfo.InvariantCulture) } },
            User = Value(credentials, "username"),
            Password = Value(credentials, "password"),
            Ssl = true,
            SslHost = Value(credentials, "host"),
            AbortOnConnectFail = true,
            ConnectRetry = 1,
        };
        options.TrustIssuer(X509Certificate2.CreateFromPem(Value(credentials, "ca.crt")));
        return options;
    }

    /// <summary>Writes and reads back one value with the binding's credentials, as the app would; throws when that fails.</summary>
    public static async Task RoundTripAsync(string kind, JsonNode credentials, CancellationToken ct)
    {
        var marker = $"probe-{Guid.NewGuid():N}";
        switch (kind)
        {
            case "postgresql":
            {
                await using var connection = await AppClients.OpenPostgresAsync(key => credentials[key]?.GetValue<string>(), ct);
                await using (var create = new Npgsql.NpgsqlCommand("CREATE TABLE IF NOT EXISTS probes (value text)", connection))
                {
                    await create.ExecuteNonQueryAsync(ct);
                }

                await using var command = new Npgsql.NpgsqlCommand(
                    "WITH added AS (INSERT INTO probes VALUES ($1) RETURNING value) SELECT count(*) FROM added WHERE value = $1", connection);
                command.Parameters.AddWithValue(marker);
                Assert.Equal(1L, (long)(await command.ExecuteScalarAsync(ct))!);
                break;
            }

            case "rabbitmq":
            {
                await using var connection = await RabbitMq(credentials).CreateConnectionAsync(ct);
                await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
                var queue = (await channel.QueueDeclareAsync(marker, durable: false, exclusive: true, autoDelete: true, cancellationToken: ct)).QueueName;
                await channel.BasicPublishAsync("", queue, Encoding.UTF8.GetBytes(marker), ct);
                BasicGetResult? got = null;
                for (var i = 0; i < 50 && got is null; i++)
                {
                    got = await channel.BasicGetAsync(queue, autoAck: true, ct);
                    if (got is null)
                    {
                        await Task.Delay(100, ct);
                    }
                }

                Assert.Equal(marker, got is null ? null : Encoding.UTF8.GetString(got.Body.Span));
                break;
            }

            case "redis":
            {
                await using var app = await ConnectionMultiplexer.ConnectAsync(Redis(credentials));
                var db = app.GetDatabase();
                var key = Value(credentials, "prefix") + marker;
                Assert.True(await db.StringSetAsync(key, marker));
                Assert.Equal(marker, (string?)await db.StringGetAsync(key));
                break;
            }

            case "etcd":
            {
                using var app = Etcd(credentials);
                var key = Value(credentials, "prefix") + marker;
                await app.PutAsync(key, marker, cancellationToken: ct);
                Assert.Equal(marker, await app.GetValAsync(key, cancellationToken: ct));
                break;
            }

            default:
                throw new ArgumentException($"No round trip for kind {kind}.", nameof(kind));
        }
    }
}
