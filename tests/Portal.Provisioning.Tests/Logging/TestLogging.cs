using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.Logging;

namespace Portal.Provisioning.Tests.Logging;

/// <summary>
/// The real rsyslog collector the logging driver tests run against, its files seen as the admin, and apps
/// sending to it with util-linux <c>logger</c>, a plain TCP socket or a TLS client.
/// </summary>
internal static class TestLogging
{
    public const string EnvironmentVariable = "PORTAL_TEST_LOGGING";

    /// <summary>How long a test waits for a sent message to show up.</summary>
    public static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(10);

    // Set for the tests that stop the collector: they get one of their own, so other tests are not disturbed.
    private static readonly AsyncLocal<BackendEndpoint?> PrivateEndpoint = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The admin endpoint from <see cref="EnvironmentVariable"/> (or the test's private collector); fails the test when it is missing.</summary>
    public static BackendEndpoint Endpoint =>
        PrivateEndpoint.Value ?? TestBackends.Require("logging", EnvironmentVariable, "rsyslog");

    /// <summary>
    /// Starts a collector of this test's own with <c>ops/backends/logging</c>; until the returned handle is
    /// disposed (which stops and removes it), <see cref="Endpoint"/> is that collector.
    /// </summary>
    /// <remarks>Synchronous so that the <see cref="AsyncLocal{T}"/> value flows back to the caller.</remarks>
    public static PrivateCollector UsePrivateCollector()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"portal-logging-{Guid.NewGuid():N}");
        RunScriptAsync("start", dir).GetAwaiter().GetResult();
        var endpoint = BackendEndpoint.Parse(File.ReadAllText(Path.Combine(dir, "endpoint")));
        // The script serves TLS when the test run's PORTAL_CA_DIR is set, as the shared collector does.
        PrivateEndpoint.Value = endpoint.Tls ? endpoint with { PlatformCa = TestBackends.Ca } : endpoint;
        return new PrivateCollector(dir);
    }

    public static string ConfigDir => Endpoint.Setting(LoggingDriver.ConfigDirSetting)!;

    public static string LogDir => Endpoint.Setting(LoggingDriver.LogDirSetting)!;

    public static string TableFile => Path.Combine(ConfigDir, "tokens.json");

    public static string RecordFile(InstanceContext instance) =>
        Path.Combine(ConfigDir, "streams", LoggingNames.Stream(instance.InstanceId) + ".json");

    public static string StreamDir(InstanceContext instance) => Path.Combine(LogDir, LoggingNames.Stream(instance.InstanceId));

    /// <summary>The live lookup table's file as rsyslog reads it: token → value.</summary>
    public static IReadOnlyDictionary<string, string> Table() => TokenTable.Parse(File.ReadAllText(TableFile));

    /// <summary>Everything rsyslog wrote for the instance's stream, all days.</summary>
    public static string StreamText(InstanceContext instance) => AllText(StreamDir(instance));

    /// <summary>Everything in the quarantine, all days.</summary>
    public static string QuarantineText() => AllText(Path.Combine(LogDir, LoggingNames.QuarantineFolder));

    /// <summary>Sends one message with util-linux <c>logger</c>, as an app's shell script would, with the binding's token.</summary>
    public static Task LoggerAsync(BindingCredentials credentials, string message, string app = "myapp", string priority = "user.info") =>
        LoggerAsync(credentials.Values["host"], credentials.Values["port"], message, app, priority,
            credentials.Values["sdId"], $"{LoggingNames.TokenParameter}=\"{credentials.Values["token"]}\"");

    /// <summary>Sends one message with <c>logger --tcp --rfc5424</c>; with <paramref name="sdId"/> null, without structured data.</summary>
    public static async Task LoggerAsync(
        string host, string port, string message, string app = "myapp", string priority = "user.info",
        string? sdId = null, string? sdParam = null)
    {
        List<string> args = ["--tcp", "--rfc5424", "-n", host, "-P", port, "-t", app, "-p", priority];
        if (sdId is not null)
        {
            args.AddRange(["--sd-id", sdId]);
        }

        if (sdParam is not null)
        {
            args.AddRange(["--sd-param", sdParam]);
        }

        args.Add(message);
        await RunAsync("logger", args);
    }

    /// <summary>Sends a signal (e.g. <c>STOP</c>, <c>CONT</c>) to the collector's rsyslogd.</summary>
    public static Task SignalCollectorAsync(string signal) =>
        RunAsync("kill", [$"-{signal}", File.ReadAllText(Endpoint.Setting(LoggingDriver.PidFileSetting)!).Trim()]);

    /// <summary>Runs a shell command line (e.g. the credentials' <c>loggerCommand</c>) with bash.</summary>
    public static Task ShellAsync(string commandLine, string? workingDirectory = null) =>
        RunAsync("bash", ["-c", commandLine], workingDirectory);

    /// <summary>The shared collector's endpoint, failing the test when it does not serve TLS.</summary>
    public static BackendEndpoint TlsEndpoint
    {
        get
        {
            var endpoint = Endpoint;
            Assert.True(endpoint.Tls,
                $"The collector in {EnvironmentVariable} does not serve TLS: start it with PORTAL_CA_DIR set " +
                "(ops/portal test does; by hand: PORTAL_CA_DIR=/tmp/dev-ca ops/backends/logging start DIR).");
            return endpoint;
        }
    }

    /// <summary>Polls until the quarantine holds <paramref name="text"/>; fails the test after <see cref="DeliveryTimeout"/>.</summary>
    public static async Task WaitForQuarantineAsync(string text)
    {
        var deadline = Stopwatch.StartNew();
        while (!QuarantineText().Contains(text, StringComparison.Ordinal))
        {
            Assert.True(deadline.Elapsed < DeliveryTimeout, $"'{text}' did not reach the quarantine in {DeliveryTimeout}.");
            await Task.Delay(50, Ct);
        }
    }

    /// <summary>
    /// Polls the driver's <see cref="ILogStreamDriver.ReadLogsAsync"/> until an entry's message contains
    /// <paramref name="text"/>; returns all entries of that read.
    /// </summary>
    public static async Task<IReadOnlyList<LogEntry>> WaitForEntryAsync(
        ILogStreamDriver driver, InstanceContext instance, string text, LogQuery? query = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var entries = await driver.ReadLogsAsync(instance, query ?? new LogQuery(), Ct);
            if (entries.Any(e => e.Message.Contains(text, StringComparison.Ordinal)))
            {
                return entries;
            }

            Assert.True(deadline.Elapsed < DeliveryTimeout, $"'{text}' did not reach the stream in {DeliveryTimeout}.");
            await Task.Delay(50, Ct);
        }
    }

    /// <summary>Polls until the stream's files hold <paramref name="text"/>; fails the test after <see cref="DeliveryTimeout"/>.</summary>
    public static async Task WaitForStreamAsync(string stream, string text)
    {
        var deadline = Stopwatch.StartNew();
        while (!AllText(Path.Combine(LogDir, stream)).Contains(text, StringComparison.Ordinal))
        {
            Assert.True(deadline.Elapsed < DeliveryTimeout, $"'{text}' did not reach stream {stream} in {DeliveryTimeout}.");
            await Task.Delay(50, Ct);
        }
    }

    /// <summary>
    /// Sends messages with the credentials' token until one lands in the quarantine: a refusal that follows a SIGHUP
    /// by hand, which rsyslog handles a moment later. Fails the test after <see cref="DeliveryTimeout"/>.
    /// </summary>
    public static async Task WaitUntilQuarantinedAsync(BindingCredentials credentials)
    {
        var deadline = Stopwatch.StartNew();
        var text = Unique("refused");
        for (var i = 0; ; i++)
        {
            await LoggerAsync(credentials, $"{text} {i.ToString(CultureInfo.InvariantCulture)}");
            var sent = Stopwatch.StartNew();
            while (sent.Elapsed < TimeSpan.FromSeconds(1))
            {
                if (QuarantineText().Contains($"{text} {i.ToString(CultureInfo.InvariantCulture)}", StringComparison.Ordinal))
                {
                    return;
                }

                await Task.Delay(50, Ct);
            }

            Assert.True(deadline.Elapsed < DeliveryTimeout, $"The token was not refused within {DeliveryTimeout}.");
        }
    }

    /// <summary>
    /// Holds the config directory's lock the driver takes for every change, so no publish runs meanwhile (an operator's
    /// hand edit of the files, made under the same lock).
    /// </summary>
    public static async Task<IDisposable> LockAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(Path.Combine(ConfigDir, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(50, Ct);
            }
        }
    }

    /// <summary>
    /// Removes by hand, as an operator editing the collector's files: the tokens whose binding keys match from the
    /// stream's record (with <paramref name="wholeRecord"/>, the record itself), the same tokens from the live lookup
    /// table; then SIGHUP. Call it holding <see cref="LockAsync"/>.
    /// </summary>
    public static async Task RemoveByHandAsync(InstanceContext instance, Func<string, bool> keys, bool wholeRecord = false)
    {
        var recordFile = RecordFile(instance);
        var record = TokenTable.DeserializeRecord(File.ReadAllText(recordFile))!;
        var removed = record.Tokens.Where(t => wholeRecord || keys(t.Key)).Select(t => t.Value).ToHashSet(StringComparer.Ordinal);
        if (wholeRecord)
        {
            File.Delete(recordFile);
        }
        else
        {
            // As the driver writes them: atomically, mode 600.
            RsyslogCollector.WriteAtomically(recordFile, TokenTable.SerializeRecord(record.WithoutTokens(keys)));
        }

        WriteTableByHand(Table().Where(e => !removed.Contains(e.Key)));
        await SignalCollectorAsync("HUP");
    }

    /// <summary>Replaces the lookup table (token → value) by hand, without SIGHUP. Call it holding <see cref="LockAsync"/>.</summary>
    public static void WriteTableByHand(IEnumerable<KeyValuePair<string, string>> entries) =>
        RsyslogCollector.WriteAtomically(TableFile, System.Text.Json.JsonSerializer.Serialize(new
        {
            version = 1,
            nomatch = "",
            type = "string",
            table = entries.Select(e => new { index = e.Key, value = e.Value }),
        }) + "\n");

    /// <summary>A unique text to send and look for.</summary>
    public static string Unique(string what) => $"{what}-{Guid.NewGuid():N}";

    /// <summary>
    /// Writes a day file the way rsyslog's template does, for tests of reading and retention: one JSON
    /// line per message, the sender's timestamp in <c>time</c>.
    /// </summary>
    public static void WriteDayFile(InstanceContext instance, DateOnly day, params (DateTimeOffset Time, string Message)[] lines)
    {
        var dir = StreamDir(instance);
        Directory.CreateDirectory(dir);
        var text = new StringBuilder();
        foreach (var (time, message) in lines)
        {
            var json = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["time"] = time.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffffzzz", CultureInfo.InvariantCulture),
                ["received"] = time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffffzzz", CultureInfo.InvariantCulture),
                ["host"] = "testhost",
                ["app"] = "old-app",
                ["procid"] = "-",
                ["msgid"] = "-",
                ["severity"] = "info",
                ["msg"] = message,
            });
            text.Append(json).Append('\n');
        }

        File.WriteAllText(Path.Combine(dir, day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + ".log"), text.ToString());
    }

    private static string AllText(string dir) =>
        !Directory.Exists(dir)
            ? ""
            : string.Concat(Directory.EnumerateFiles(dir, "*.log").Order().Select(File.ReadAllText));

    private static async Task RunAsync(string program, IEnumerable<string> args, string? workingDirectory = null)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "",
        })!;
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        Assert.True(process.ExitCode == 0, $"{program} failed ({process.ExitCode}): {await stdout}{await stderr}");
    }

    public static Task RunScriptAsync(string command, string dir) => RunAsync("bash", [FindScript(), command, dir]);

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var script = Path.Combine(dir.FullName, "ops", "backends", "logging");
            if (File.Exists(script))
            {
                return script;
            }
        }

        Assert.Fail($"ops/backends/logging not found above {AppContext.BaseDirectory}.");
        return "";
    }

    /// <summary>A collector of one test's own, stopped and removed when disposed.</summary>
    public sealed class PrivateCollector(string dir) : IAsyncDisposable
    {
        public string Dir { get; } = dir;

        public Task StopAsync() => RunScriptAsync("stop", Dir);

        public Task StartAsync() => RunScriptAsync("start", Dir);

        public async ValueTask DisposeAsync()
        {
            PrivateEndpoint.Value = null;
            await RunScriptAsync("stop", Dir);
            Directory.Delete(Dir, recursive: true);
        }
    }
}

/// <summary>
/// An app's open TCP connection to the collector, writing RFC 5424 frames built here by hand (not with the
/// driver's <see cref="Rfc5424"/>), so the test does not trust the code it tests.
/// </summary>
internal sealed class AppConnection : IAsyncDisposable
{
    private readonly TcpClient _client;

    private AppConnection(TcpClient client) => _client = client;

    public static async Task<AppConnection> OpenAsync(BindingCredentials credentials)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(credentials.Values["host"],
            int.Parse(credentials.Values["port"], CultureInfo.InvariantCulture), TestContext.Current.CancellationToken);
        return new AppConnection(client);
    }

    /// <summary>Sends one octet-counted message carrying <paramref name="structuredData"/> (e.g. the credentials' element).</summary>
    public async Task SendAsync(string structuredData, string message, string app = "netapp")
    {
        var time = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var body = Encoding.UTF8.GetBytes($"<134>1 {time} apphost {app} 4711 - {structuredData} {message}");
        var frame = Encoding.ASCII.GetBytes($"{body.Length} ").Concat(body).ToArray();
        await _client.GetStream().WriteAsync(frame, TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        // FIN after the last write, so the collector reads all of it.
        _client.Client.Shutdown(SocketShutdown.Send);
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// An app's TLS connection to the collector's TLS port, as an app configured from its binding would open it: it
/// trusts only the CA certificate it is given (the binding's <c>ca.crt</c>), never the system's roots. Frames are
/// built by hand like <see cref="AppConnection"/>'s.
/// </summary>
internal sealed class AppTlsConnection : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly SslStream _ssl;

    private AppTlsConnection(TcpClient client, SslStream ssl)
    {
        _client = client;
        _ssl = ssl;
    }

    /// <summary>
    /// Connects to <c>host</c>:<c>tlsPort</c> of the credentials and shakes hands, verifying the collector's
    /// certificate against <paramref name="caPem"/> only (default: the credentials' <c>ca.crt</c>) and its name
    /// against the host. Throws <see cref="System.Security.Authentication.AuthenticationException"/> when that fails.
    /// </summary>
    public static async Task<AppTlsConnection> OpenAsync(BindingCredentials credentials, string? caPem = null)
    {
        var ct = TestContext.Current.CancellationToken;
        var host = credentials.Values["host"];
        var client = new TcpClient { NoDelay = true };
        try
        {
            await client.ConnectAsync(host, int.Parse(credentials.Values["tlsPort"], CultureInfo.InvariantCulture), ct);
            var ssl = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                RemoteCertificateValidationCallback = CertificateAuthority.TrustOnly(caPem ?? credentials.Values["ca.crt"]),
            }, ct);
            return new AppTlsConnection(client, ssl);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Sends one octet-counted message carrying <paramref name="structuredData"/> (e.g. the credentials' element).</summary>
    public async Task SendAsync(string structuredData, string message, string app = "tlsapp")
    {
        var time = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var body = Encoding.UTF8.GetBytes($"<134>1 {time} apphost {app} 4711 - {structuredData} {message}");
        var frame = Encoding.ASCII.GetBytes($"{body.Length} ").Concat(body).ToArray();
        await _ssl.WriteAsync(frame, TestContext.Current.CancellationToken);
        await _ssl.FlushAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>
    /// Closes gracefully: close_notify, FIN, then reads until the collector closes. Dropping the connection instead
    /// leaves the collector's TLS 1.3 session tickets unread, the kernel answers with a reset, and the collector may
    /// discard messages it has not read yet.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _ssl.ShutdownAsync();
            _client.Client.Shutdown(SocketShutdown.Send);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            var buffer = new byte[512];
            while (await _ssl.ReadAsync(buffer, timeout.Token) > 0)
            {
            }
        }
        catch (IOException)
        {
            // The collector closed without a close_notify of its own: everything it was sent was read.
        }
        finally
        {
            await _ssl.DisposeAsync();
            _client.Dispose();
        }
    }
}
