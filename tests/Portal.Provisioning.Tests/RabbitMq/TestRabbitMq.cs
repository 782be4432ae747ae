using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.RabbitMq;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Portal.Provisioning.Tests.RabbitMq;

/// <summary>The real RabbitMQ node the integration tests run against, seen as the admin and as an app.</summary>
internal static class TestRabbitMq
{
    public const string EnvironmentVariable = "PORTAL_TEST_RABBITMQ";

    // The test node serves its management API over https with a certificate of the tests' CA, trusted alone.
    private static readonly HttpClient SharedHttp = new(new SocketsHttpHandler
    {
        SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, e) => TestBackends.Ca.Verifies(c, e) },
    })
    { Timeout = TimeSpan.FromSeconds(30) };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The admin endpoint from <see cref="EnvironmentVariable"/>; fails the test when it is missing.</summary>
    public static BackendEndpoint Endpoint => TestBackends.Require("rabbitmq", EnvironmentVariable, "rabbitmq-server");

    /// <summary>A management API call as the admin; null for 404.</summary>
    public static async Task<JsonElement?> AdminGetAsync(params string[] path)
    {
        using var response = await SendAsync(HttpMethod.Get, null, path);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return document.RootElement.Clone();
    }

    /// <summary>A PUT or DELETE as the admin; fails the test unless it succeeds.</summary>
    public static async Task AdminSendAsync(HttpMethod method, object? body, params string[] path)
    {
        using var response = await SendAsync(method, body, path);
        Assert.True(response.IsSuccessStatusCode, $"{method} {string.Join('/', path)}: {(int)response.StatusCode}");
    }

    /// <summary>The status a management API call gets with someone else's credentials.</summary>
    public static async Task<HttpStatusCode> StatusAsUserAsync(string user, string password, params string[] path)
    {
        using var response = await SendAsync(HttpMethod.Get, null, path, user, password);
        return response.StatusCode;
    }

    public static async Task<bool> VhostExistsAsync(string vhost) => await AdminGetAsync("vhosts", vhost) is not null;

    /// <summary>The vhost's limits, e.g. max-connections = 2 (empty when none).</summary>
    public static async Task<Dictionary<string, int>> VhostLimitsAsync(string vhost)
    {
        var limits = new Dictionary<string, int>();
        if (await AdminGetAsync("vhost-limits", vhost) is not { } list)
        {
            return limits;
        }

        foreach (var entry in list.EnumerateArray())
        {
            foreach (var limit in entry.GetProperty("value").EnumerateObject())
            {
                limits[limit.Name] = limit.Value.GetInt32();
            }
        }

        return limits;
    }

    /// <summary>Names of the users whose name contains <paramref name="text"/>.</summary>
    public static async Task<List<string>> UsersContainingAsync(string text)
    {
        var users = await AdminGetAsync("users");
        return users!.Value.EnumerateArray()
            .Select(u => u.GetProperty("name").GetString()!)
            .Where(n => n.Contains(text, StringComparison.Ordinal))
            .ToList();
    }

    /// <summary>
    /// Opens an AMQP connection with a binding's credentials as an app does: its <c>uri</c>, and for an
    /// <c>amqps://</c> URI the server certificate checked against the binding's <c>ca.crt</c> only (or against
    /// <paramref name="trust"/>, e.g. another CA's, instead).
    /// </summary>
    public static Task<IConnection> ConnectAsync(BindingCredentials credentials, RemoteCertificateValidationCallback? trust = null)
    {
        var factory = new ConnectionFactory { Uri = new Uri(credentials.Values["uri"]) };
        if (factory.Ssl.Enabled)
        {
            factory.Ssl.CertificateValidationCallback = trust ?? TrustOnly(credentials.Values["ca.crt"]);
        }

        return ConnectAsync(factory);
    }

    /// <summary>Opens an AMQP connection with a binding's host, port and TLS settings but the given login and vhost.</summary>
    public static Task<IConnection> ConnectAsync(BindingCredentials credentials, string vhost, string? password = null)
    {
        var v = credentials.Values;
        var factory = new ConnectionFactory
        {
            HostName = v["host"],
            Port = int.Parse(v["port"], CultureInfo.InvariantCulture),
            UserName = v["username"],
            Password = password ?? v["password"],
            VirtualHost = vhost,
        };
        if (v.TryGetValue("ca.crt", out var ca))
        {
            factory.Ssl = ServerTls(v["host"], TrustOnly(ca));
        }

        return ConnectAsync(factory);
    }

    /// <summary>
    /// Opens an AMQPS connection that logs in with SASL EXTERNAL: no user name or password, only the client
    /// certificate, whose CN the node takes as the user. Host, port and <c>ca.crt</c> come from a binding.
    /// </summary>
    public static Task<IConnection> ConnectWithCertificateAsync(BindingCredentials credentials, X509Certificate2 certificate, string vhost)
    {
        var v = credentials.Values;
        var tls = ServerTls(v["host"], TrustOnly(v["ca.crt"]));
        tls.Certs = new X509CertificateCollection { certificate };
        return ConnectAsync(new ConnectionFactory
        {
            HostName = v["host"],
            Port = int.Parse(v["port"], CultureInfo.InvariantCulture),
            VirtualHost = vhost,
            Ssl = tls,
            AuthMechanisms = [new ExternalMechanismFactory()],
        });
    }

    /// <summary>The client certificate of a binding's credentials (<c>tls.crt</c>/<c>tls.key</c>).</summary>
    public static X509Certificate2 ClientCertificate(BindingCredentials credentials) =>
        X509Certificate2.CreateFromPem(credentials.Values["tls.crt"], credentials.Values["tls.key"]);

    /// <summary>A server certificate check that trusts the CA in <paramref name="caPem"/> and nothing else (host names still checked).</summary>
    public static RemoteCertificateValidationCallback TrustOnly(string caPem) => CertificateAuthority.TrustOnly(caPem);

    /// <summary>Completes with the reason when the server (or anyone) closes the connection.</summary>
    public static Task<ShutdownEventArgs> ShutdownOf(IConnection connection)
    {
        var closed = new TaskCompletionSource<ShutdownEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionShutdownAsync += (_, args) =>
        {
            closed.TrySetResult(args);
            return Task.CompletedTask;
        };
        return closed.Task;
    }

    private static SslOption ServerTls(string host, RemoteCertificateValidationCallback trust) =>
        new() { Enabled = true, ServerName = host, CertificateValidationCallback = trust };

    /// <summary>
    /// The AMQP reply code behind a failed connect or operation (e.g. 530 NOT_ALLOWED, 406 PRECONDITION_FAILED),
    /// 403 for a refused login, or null.
    /// </summary>
    public static int? ReplyCode(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case AuthenticationFailureException:
                    return 403;
                case OperationInterruptedException { ShutdownReason: { } reason }:
                    return reason.ReplyCode;
                case AggregateException aggregate:
                    return aggregate.InnerExceptions.Select(ReplyCode).FirstOrDefault(c => c is not null);
            }
        }

        return null;
    }

    /// <summary>
    /// Opens a connection and makes one round trip on a channel. RabbitMQ.Client 7 returns from
    /// CreateConnectionAsync before it sees the server refuse the vhost (530 arrives as connection.close), so only
    /// a round trip proves the connection is usable.
    /// </summary>
    private static async Task<IConnection> ConnectAsync(ConnectionFactory factory)
    {
        // Recovery would hide a connection the server closed, which is exactly what some tests look for.
        factory.AutomaticRecoveryEnabled = false;
        factory.TopologyRecoveryEnabled = false;
        factory.RequestedConnectionTimeout = TimeSpan.FromSeconds(10);
        factory.ClientProvidedName = "portal-tests";
        var connection = await factory.CreateConnectionAsync(Ct);
        try
        {
            await using var channel = await connection.CreateChannelAsync(cancellationToken: Ct);
            await channel.ExchangeDeclarePassiveAsync("amq.direct", Ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(
        HttpMethod method, object? body, string[] path, string? user = null, string? password = null)
    {
        var backend = Endpoint;
        using var request = new HttpRequestMessage(method, RabbitMqDriver.ApiUri(RabbitMqDriver.ManagementUrl(backend), path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(
            Encoding.UTF8.GetBytes($"{user ?? backend.AdminUser}:{password ?? backend.AdminPassword}")));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return await SharedHttp.SendAsync(request, Ct);
    }
}

/// <summary>An <see cref="IHttpClientFactory"/> without DI: clients share one handler, as the real factory's do.</summary>
internal sealed class TestHttpClientFactory : IHttpClientFactory
{
    private static readonly SocketsHttpHandler Handler = new() { PooledConnectionLifetime = TimeSpan.FromMinutes(2) };

    public HttpClient CreateClient(string name) => new(Handler, disposeHandler: false);
}
