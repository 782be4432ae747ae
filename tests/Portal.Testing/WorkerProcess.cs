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

    private WorkerProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int ProcessId => _process.Id;

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

    /// <summary>Starts a worker on the portal's database and waits until its job server is registered.</summary>
    public static async Task<WorkerProcess> StartAsync(PortalAppFactory portal, IReadOnlyDictionary<string, string> settings, CancellationToken ct)
    {
        var start = new ProcessStartInfo("dotnet", [WorkerAssembly])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(WorkerAssembly)!,
        };
        start.Environment["DOTNET_ENVIRONMENT"] = "Development";
        start.Environment["ConnectionStrings__Portal"] = portal.ConnectionString;
        start.Environment["Auth__Issuer"] = PortalAppFactory.TestIssuer;
        start.Environment["Ca__CertificateFile"] = Path.Combine(TestEnvironment.CaDirectory, "ca.crt");
        start.Environment["Ca__KeyFile"] = Path.Combine(TestEnvironment.CaDirectory, "ca.key");
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var worker = new WorkerProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"));
        await worker.WaitUntilServingAsync(portal.ConnectionString, ct);
        return worker;
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
