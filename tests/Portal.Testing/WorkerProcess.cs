using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;

namespace Portal.Testing;

/// <summary>
/// A real <c>Portal.Worker</c> process (the worker-only host) working the jobs of a test portal's database, which a test
/// can kill at any moment with SIGKILL, as a crashed host dies.
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private WorkerProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int ProcessId => _process.Id;

    /// <summary>The worker's own HTTP listener (health and metrics endpoints), on a port of its own.</summary>
    public Uri Address { get; }

    /// <summary>Whether the process has ended (crashed, or killed).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the worker wrote, for a failing test's message.</summary>
    public string RecentOutput => string.Join('\n', _output);

    /// <summary>The worker host built beside the tests (the test project references it, so it is built with them).</summary>
    public static string WorkerAssembly
    {
        get
        {
            // …/tests/<project>/bin/<Configuration>/<tfm>/
            var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var path = Path.Combine(OpsScripts.RepositoryRoot, "src", "Portal.Worker", "bin", tfm.Parent!.Name, tfm.Name, "Portal.Worker.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"The worker host is not built at {path}: dotnet build Portal.sln.", path);
        }
    }

    /// <summary>
    /// Starts a worker on the portal's database, on a free loopback port, and waits until its job server is registered and
    /// it answers /healthz/ready.
    /// </summary>
    public static Task<WorkerProcess> StartAsync(PortalAppFactory portal, IReadOnlyDictionary<string, string> settings, CancellationToken ct) =>
        StartAsync(portal.ConnectionString, settings, ct);

    /// <inheritdoc cref="StartAsync(PortalAppFactory, IReadOnlyDictionary{string, string}, CancellationToken)"/>
    public static async Task<WorkerProcess> StartAsync(string connectionString, IReadOnlyDictionary<string, string> settings, CancellationToken ct)
    {
        var address = new Uri($"http://127.0.0.1:{FreePort()}");
        var start = new ProcessStartInfo("dotnet", [WorkerAssembly])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(WorkerAssembly)!,
        };
        start.Environment["DOTNET_ENVIRONMENT"] = "Development";
        start.Environment["ConnectionStrings__Portal"] = connectionString;
        start.Environment["Urls"] = address.ToString();
        start.Environment["Auth__Issuer"] = PortalAppFactory.TestIssuer;
        start.Environment["Ca__CertificateFile"] = Path.Combine(TestEnvironment.CaDirectory, "ca.crt");
        start.Environment["Ca__KeyFile"] = Path.Combine(TestEnvironment.CaDirectory, "ca.key");
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var worker = new WorkerProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"), address);
        await worker.WaitUntilServingAsync(connectionString, ct);
        await worker.WaitUntilReadyAsync(ct);
        return worker;
    }

    /// <summary>A GET on the worker's listener.</summary>
    public async Task<HttpResponseMessage> GetAsync(string path, string? bearer = null, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Address, path));
        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        return await Http.SendAsync(request, ct);
    }

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// A port nobody listens on now. Another process could take it before the worker binds it; the worker then exits
    /// and the start fails with its output, which says so.
    /// </summary>
    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task WaitUntilReadyAsync(CancellationToken ct)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        var last = "";
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The worker exited with code {_process.ExitCode}:\n{RecentOutput}");
            }

            try
            {
                using var response = await GetAsync("/healthz/ready", ct: ct);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }

            await Task.Delay(200, ct);
        }

        throw new TimeoutException($"The worker at {Address} did not answer ready within 60 s (last: {last}):\n{RecentOutput}");
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

    private async Task WaitUntilServingAsync(string connectionString, CancellationToken ct)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The worker exited with code {_process.ExitCode}:\n{RecentOutput}");
            }

            // Hangfire names its servers "<ServerName>:<guid>"; ours is "<machine>:<pid>".
            await using var command = new NpgsqlCommand("SELECT count(*) FROM hangfire.server WHERE id LIKE $1", connection);
            command.Parameters.AddWithValue($"%:{_process.Id}:%");
            if ((long)(await command.ExecuteScalarAsync(ct))! > 0)
            {
                return;
            }

            await Task.Delay(200, ct);
        }

        throw new TimeoutException($"The worker did not register its job server within 60 s:\n{RecentOutput}");
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
