using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using StackExchange.Redis;

namespace Portal.Provisioning.Tests.Redis;

/// <summary>The real Redis server the Redis driver tests run against, reached as admin or as an app.</summary>
internal static class TestRedis
{
    public const string EnvironmentVariable = "PORTAL_TEST_REDIS";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Set for the tests that restart the server or reload its aclfile: they get a server of their own, so
    // other test assemblies using the shared one at the same time are not disturbed.
    private static readonly AsyncLocal<BackendEndpoint?> PrivateEndpoint = new();

    /// <summary>
    /// Starts a server of this test's own with <c>ops/backends/redis</c>; until the returned handle is
    /// disposed (which stops and removes it), <see cref="Endpoint"/> is that server.
    /// </summary>
    /// <remarks>
    /// Synchronous on purpose: a value an async method gives an <see cref="AsyncLocal{T}"/> does not flow
    /// back to its caller, one a synchronous method gives does.
    /// </remarks>
    public static IAsyncDisposable UsePrivateServer()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"portal-redis-{Guid.NewGuid():N}");
        RunScriptAsync("start", dir).GetAwaiter().GetResult();
        var endpoint = BackendEndpoint.Parse(File.ReadAllText(Path.Combine(dir, "endpoint")));
        PrivateEndpoint.Value = endpoint.Tls ? endpoint with { PlatformCa = TestBackends.Ca } : endpoint;
        return new PrivateServer(dir);
    }

    /// <summary>True between <see cref="UsePrivateServer"/> and disposing its handle.</summary>
    public static bool UsesPrivateServer => PrivateEndpoint.Value is not null;

    private sealed class PrivateServer(string dir) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            PrivateEndpoint.Value = null;
            await RunScriptAsync("stop", dir);
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The admin endpoint from <see cref="EnvironmentVariable"/> (or the test's private server); fails the test when it is missing.</summary>
    public static BackendEndpoint Endpoint =>
        PrivateEndpoint.Value ?? TestBackends.Require("redis", EnvironmentVariable, "redis-server");

    /// <summary>Connects as the admin of <see cref="Endpoint"/>, over TLS trusting the tests' CA when it serves TLS.</summary>
    public static Task<ConnectionMultiplexer> ConnectAdminAsync()
    {
        var backend = Endpoint;
        return ConnectAsync(backend.Host, backend.Port, backend.AdminUser, backend.AdminPassword);
    }

    /// <summary>
    /// Connects with a binding's credentials, as an app would: over TLS when the uri says <c>rediss://</c>,
    /// trusting the credentials' <c>ca.crt</c> (or <paramref name="trustedCaPem"/> instead).
    /// </summary>
    public static Task<ConnectionMultiplexer> ConnectAsync(BindingCredentials credentials, string? trustedCaPem = null)
    {
        var v = credentials.Values;
        var tls = v["uri"].StartsWith("rediss://", StringComparison.Ordinal);
        return ConnectAsync(v["host"], int.Parse(v["port"], CultureInfo.InvariantCulture), v["username"], v["password"],
            tls ? trustedCaPem ?? v["ca.crt"] : null);
    }

    /// <summary>Connects as any user, over TLS trusting the tests' CA when <see cref="Endpoint"/> serves TLS.</summary>
    public static Task<ConnectionMultiplexer> ConnectAsync(string host, int port, string user, string password) =>
        ConnectAsync(host, port, user, password, Endpoint.Tls ? TestBackends.Ca.CertificatePem : null);

    /// <summary>
    /// Connects as any user: over TLS trusting only <paramref name="trustedCaPem"/> (through StackExchange.Redis's
    /// own <see cref="ConfigurationOptions.TrustIssuer(X509Certificate2)"/>, as an app would), or in plain TCP when it is null.
    /// </summary>
    public static Task<ConnectionMultiplexer> ConnectAsync(string host, int port, string user, string password, string? trustedCaPem)
    {
        var options = new ConfigurationOptions
        {
            EndPoints = { { host, port } },
            User = user,
            Password = password,
            // Throw on a failed login instead of retrying in the background.
            AbortOnConnectFail = true,
            ConnectRetry = 1,
            ConnectTimeout = 5_000,
            AsyncTimeout = 5_000,
            SyncTimeout = 5_000,
            // Let the client send FLUSHALL, KEYS, CONFIG…: the tests prove the *server* refuses them.
            AllowAdmin = true,
            BacklogPolicy = BacklogPolicy.FailFast,
        };
        if (trustedCaPem is not null)
        {
            options.Ssl = true;
            options.SslHost = host;
            options.TrustIssuer(X509Certificate2.CreateFromPem(trustedCaPem));
        }

        return ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>Fails the test unless the server of <see cref="Endpoint"/> serves TLS (started with PORTAL_CA_DIR).</summary>
    public static void RequireTls()
    {
        if (!Endpoint.Tls)
        {
            Assert.Fail($"{EnvironmentVariable} names a server without tls=true: start it with PORTAL_CA_DIR set " +
                $"(the CA of {TestBackends.CaVariable}), as `ops/portal test` does.");
        }
    }

    /// <summary>Runs one command as the admin.</summary>
    public static async Task<RedisResult> AdminAsync(string command, params object[] args)
    {
        await using var admin = await ConnectAdminAsync();
        return await admin.GetServers().Single().ExecuteAsync(command, args);
    }

    /// <summary>The <c>ACL LIST</c> lines.</summary>
    public static async Task<string[]> AclListAsync() =>
        [.. ((string?[]?)await AdminAsync("ACL", "LIST") ?? []).OfType<string>()];

    /// <summary>True when the ACL user exists.</summary>
    public static async Task<bool> UserExistsAsync(string user) => !(await AdminAsync("ACL", "GETUSER", user)).IsNull;

    /// <summary>The user's rules as <c>ACL LIST</c> prints them (without the leading <c>user name</c>), or null.</summary>
    public static async Task<string?> AclLineAsync(string user)
    {
        var line = (await AclListAsync()).SingleOrDefault(l => l.StartsWith($"user {user} ", StringComparison.Ordinal));
        return line?[$"user {user} ".Length..];
    }

    /// <summary>Counts the keys matching a glob, by SCAN as the admin.</summary>
    public static async Task<int> CountKeysAsync(string pattern)
    {
        await using var admin = await ConnectAdminAsync();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var key in admin.GetServers().Single().KeysAsync(pattern: pattern, pageSize: 1000).WithCancellation(Ct))
        {
            keys.Add(key!);
        }

        return keys.Count;
    }

    /// <summary>Names of the users with open connections, from <c>CLIENT LIST</c>.</summary>
    public static async Task<string[]> ConnectedUsersAsync()
    {
        var list = (string?)await AdminAsync("CLIENT", "LIST") ?? "";
        return
        [
            .. list.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .SelectMany(l => l.Split(' '))
                .Where(f => f.StartsWith("user=", StringComparison.Ordinal))
                .Select(f => f["user=".Length..]),
        ];
    }

    /// <summary>
    /// Stops and starts the server with <c>ops/backends/redis</c>. Its folder is the parent of the server's
    /// working directory (<c>DIR/data</c>), so the test needs nothing beyond <see cref="EnvironmentVariable"/>.
    /// </summary>
    public static async Task RestartServerAsync()
    {
        var workDir = (string?[]?)await AdminAsync("CONFIG", "GET", "dir");
        var dir = Path.GetDirectoryName(workDir?[1] ?? "");
        if (dir is null || !File.Exists(Path.Combine(dir, "endpoint")))
        {
            Assert.Fail($"The server of {EnvironmentVariable} was not started by ops/backends/redis (no endpoint file beside {workDir?[1]}).");
        }

        await RunScriptAsync("stop", dir);
        await RunScriptAsync("start", dir);
    }

    private static async Task RunScriptAsync(string command, string dir)
    {
        var script = FindScript();
        var start = new ProcessStartInfo("bash", [script, command, dir])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The servers the tests start or restart serve TLS with the certificate of the CA the tests trust.
        if (Environment.GetEnvironmentVariable(TestBackends.CaVariable) is { Length: > 0 } caDir)
        {
            start.Environment["PORTAL_CA_DIR"] = caDir;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        Assert.True(process.ExitCode == 0, $"{script} {command} failed ({process.ExitCode}): {await stdout}{await stderr}");
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var script = Path.Combine(dir.FullName, "ops", "backends", "redis");
            if (File.Exists(script))
            {
                return script;
            }
        }

        Assert.Fail($"ops/backends/redis not found above {AppContext.BaseDirectory}.");
        return "";
    }
}
