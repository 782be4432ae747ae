using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Portal.Provisioning.Tests.Etcd;

/// <summary>
/// A throwaway single-member etcd with authentication left off (etcd's default), started from the binary that
/// ops/backends/etcd installed, for the tests that prove the driver refuses such a server.
/// </summary>
internal sealed class UnauthenticatedEtcd : IAsyncDisposable
{
    private const string Binary = "/usr/bin/etcd";

    private readonly Process _process;
    private readonly string _dir;

    private UnauthenticatedEtcd(Process process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public static async Task<UnauthenticatedEtcd> StartAsync(CancellationToken ct)
    {
        if (!File.Exists(Binary))
        {
            Assert.Fail($"{Binary} is missing: run `ops/portal test`, which installs etcd-server (apt-get install etcd-server).");
        }

        var dir = Directory.CreateTempSubdirectory("portal-etcd-noauth.").FullName;
        var client = FreePort();
        var peer = FreePort();
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
        {
            "--name", "noauth", "--data-dir", Path.Combine(dir, "data"),
            "--listen-client-urls", $"http://127.0.0.1:{client}", "--advertise-client-urls", $"http://127.0.0.1:{client}",
            "--listen-peer-urls", $"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{peer}",
            "--initial-cluster", $"noauth=http://127.0.0.1:{peer}",
            "--logger", "zap", "--log-outputs", Path.Combine(dir, "etcd.log"),
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("etcd did not start");
        process.StandardInput.Close();
        // Drain the pipes so a chatty etcd can never block on a full one; its log goes to etcd.log.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var etcd = new UnauthenticatedEtcd(process, dir, client);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 100; i++)
        {
            try
            {
                if ((await http.GetStringAsync($"http://127.0.0.1:{client}/health", ct)).Contains("\"true\"", StringComparison.Ordinal))
                {
                    return etcd;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100, ct);
        }

        await etcd.DisposeAsync();
        throw new TimeoutException("The unauthenticated etcd did not become healthy within 10 s.");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
