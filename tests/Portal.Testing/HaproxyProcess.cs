using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace Portal.Testing;

/// <summary>
/// HAProxy in front of web hosts, with the configuration `ops/portal cluster` uses (ops/lib/haproxy.sh writes both):
/// TLS with a server certificate from the tests' platform CA, plain HTTP redirected, sticky sessions, health checks.
/// Runs in a temporary folder of its own on the given loopback ports.
/// </summary>
public sealed class HaproxyProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly ConcurrentQueue<string> _output = new();

    private HaproxyProcess(Process process, string directory, int httpsPort, int httpPort)
    {
        _process = process;
        _directory = directory;
        HttpsPort = httpsPort;
        HttpPort = httpPort;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int HttpsPort { get; }

    public int HttpPort { get; }

    /// <summary>The portal's public address: https on HAProxy's port.</summary>
    public Uri BaseUrl => new($"https://127.0.0.1:{HttpsPort.ToString(CultureInfo.InvariantCulture)}/");

    /// <summary>HAProxy's log (one line per request, and its health-check verdicts), for a failing test's message.</summary>
    public string RecentOutput => string.Join('\n', _output);

    /// <summary>The configuration HAProxy runs with.</summary>
    public string Configuration => File.ReadAllText(Path.Combine(_directory, "haproxy.cfg"));

    /// <summary>Fails the test, naming the install step, when HAProxy is not installed.</summary>
    public static string RequireInstalled()
    {
        var path = new[] { "/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy" }.FirstOrDefault(File.Exists);
        if (path is null)
        {
            Assert.Fail("HAProxy is not installed: run `ops/portal install` (or `apt-get install haproxy`); `ops/portal test` installs it too.");
        }

        return path!;
    }

    /// <summary>
    /// Writes the configuration for the web hosts on 127.0.0.1:<paramref name="webPorts"/>, checks it, starts HAProxy
    /// and waits until it accepts connections on <paramref name="httpsPort"/>.
    /// </summary>
    public static async Task<HaproxyProcess> StartAsync(int httpsPort, int httpPort, IReadOnlyList<int> webPorts, CancellationToken ct)
    {
        var haproxy = RequireInstalled();
        var directory = Directory.CreateTempSubdirectory("portal-haproxy-").FullName;
        var ports = string.Join(' ', webPorts.Select(p => p.ToString(CultureInfo.InvariantCulture)));
        var config = Path.Combine(directory, "haproxy.cfg");
        var write = await OpsScripts.BashAsync(
            $"source ops/lib/apt.sh; source ops/lib/ca.sh; source ops/lib/haproxy.sh; " +
            $"haproxy_pem '{TestEnvironment.CaDirectory}' '{directory}/haproxy'; " +
            $"haproxy_config {httpsPort} {httpPort} '{directory}/haproxy.pem' {ports} > '{config}'; haproxy_check '{config}'",
            TimeSpan.FromSeconds(60));
        if (write.ExitCode != 0)
        {
            Directory.Delete(directory, recursive: true);
            throw new InvalidOperationException($"ops/lib/haproxy.sh did not write a valid configuration: {write}");
        }

        var start = new ProcessStartInfo(haproxy, ["-db", "-W", "-f", config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = directory,
        };
        var proxy = new HaproxyProcess(Process.Start(start) ?? throw new InvalidOperationException("haproxy did not start"), directory, httpsPort, httpPort);
        try
        {
            await proxy.WaitUntilListeningAsync(ct);
        }
        catch
        {
            await proxy.DisposeAsync();
            throw;
        }

        return proxy;
    }

    /// <summary>An HTTP handler that trusts exactly the tests' platform CA, as a client given <c>ca.crt</c> does.</summary>
    public static SocketsHttpHandler TrustingPlatformCa()
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(TestEnvironment.CaDirectory, "ca.crt")));
        return new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { ca },
                    RevocationMode = X509RevocationMode.NoCheck,
                },
            },
        };
    }

    private async Task WaitUntilListeningAsync(CancellationToken ct)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"haproxy exited with code {_process.ExitCode}:\n{RecentOutput}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", HttpsPort, ct);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100, ct);
            }
        }

        throw new TimeoutException($"haproxy did not listen on 127.0.0.1:{HttpsPort} within 30 s:\n{RecentOutput}");
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 300 && _output.TryDequeue(out _))
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
