using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Portal.Provisioning.RabbitMq;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Portal.Provisioning.Tests.RabbitMq;

/// <summary>The real RabbitMQ node the integration tests run against, seen as the admin and as an app.</summary>
internal static class TestRabbitMq
{
    public const string EnvironmentVariable = "PORTAL_TEST_RABBITMQ";

    private static readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

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

    /// <summary>Opens an AMQP connection with a binding's credentials, through its <c>uri</c>.</summary>
    public static Task<IConnection> ConnectAsync(BindingCredentials credentials) =>
        ConnectAsync(new ConnectionFactory { Uri = new Uri(credentials.Values["uri"]) });

    /// <summary>Opens an AMQP connection with a binding's host and port but the given login and vhost.</summary>
    public static Task<IConnection> ConnectAsync(BindingCredentials credentials, string vhost, string? password = null)
    {
        var v = credentials.Values;
        return ConnectAsync(new ConnectionFactory
        {
            HostName = v["host"],
            Port = int.Parse(v["port"], CultureInfo.InvariantCulture),
            UserName = v["username"],
            Password = password ?? v["password"],
            VirtualHost = vhost,
        });
    }

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

        return await _http.SendAsync(request, Ct);
    }
}

/// <summary>An <see cref="IHttpClientFactory"/> without DI: clients share one handler, as the real factory's do.</summary>
internal sealed class TestHttpClientFactory : IHttpClientFactory
{
    private static readonly SocketsHttpHandler _handler = new() { PooledConnectionLifetime = TimeSpan.FromMinutes(2) };

    public HttpClient CreateClient(string name) => new(_handler, disposeHandler: false);
}
