using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Portal.Testing;

/// <summary>
/// A real <c>Portal.Web</c> process (the web host, as `ops/portal cluster` runs it) on a test portal's database and a
/// loopback port, without a job server (<c>Jobs:RunServer=false</c>: worker processes run the jobs). A test can kill it
/// with SIGKILL, as a crashed host dies.
/// </summary>
public sealed class WebProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private WebProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Port { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The host's own address, bypassing any load balancer.</summary>
    public Uri BaseUrl => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/");

    /// <summary>The last lines the host wrote, for a failing test's message.</summary>
    public string RecentOutput => string.Join('\n', _output);

    /// <summary>The web host built beside the tests (Portal.Testing references it, so it is built with them).</summary>
    public static string WebAssembly
    {
        get
        {
            // …/tests/<project>/bin/<Configuration>/<tfm>/
            var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var path = Path.Combine(OpsScripts.RepositoryRoot, "web", "Portal.Web", "bin", tfm.Parent!.Name, tfm.Name, "Portal.Web.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"The web host is not built at {path}: dotnet build Portal.sln.", path);
        }
    }

    /// <summary>
    /// Starts a web host on the portal's database at 127.0.0.1:<paramref name="port"/> and waits until it answers
    /// <c>/healthz</c>. <paramref name="settings"/> (configuration keys with ':') come last and win.
    /// </summary>
    public static async Task<WebProcess> StartAsync(PortalAppFactory portal, int port, IReadOnlyDictionary<string, string> settings, CancellationToken ct)
    {
        var start = new ProcessStartInfo("dotnet", [WebAssembly])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(WebAssembly)!,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        start.Environment["ConnectionStrings__Portal"] = portal.ConnectionString;
        start.Environment["Auth__Issuer"] = PortalAppFactory.TestIssuer;
        start.Environment["Jobs__RunServer"] = "false";
        start.Environment["Ca__CertificateFile"] = Path.Combine(TestEnvironment.CaDirectory, "ca.crt");
        start.Environment["Ca__KeyFile"] = Path.Combine(TestEnvironment.CaDirectory, "ca.key");
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var web = new WebProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"), port);
        try
        {
            await web.WaitUntilHealthyAsync(ct);
        }
        catch
        {
            await web.DisposeAsync();
            throw;
        }

        return web;
    }

    /// <summary>SIGKILL: no shutdown, no cleanup, as when the host dies.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    private async Task WaitUntilHealthyAsync(CancellationToken ct)
    {
        using var client = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(5) };
        var until = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The web host exited with code {_process.ExitCode}:\n{RecentOutput}");
            }

            try
            {
                using var answer = await client.GetAsync("healthz", ct);
                if (answer.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                // Not listening yet.
            }

            await Task.Delay(200, ct);
        }

        throw new TimeoutException($"The web host did not answer /healthz within 90 s:\n{RecentOutput}");
    }

    /// <summary>Loopback ports nothing listens on now (the system picks them; a test binds them soon after).</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        try
        {
            foreach (var listener in listeners)
            {
                listener.Start();
            }

            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Stop();
            }
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 200 && _output.TryDequeue(out _))
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
