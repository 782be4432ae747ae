using System.Diagnostics;

namespace Portal.Testing;

/// <summary>Runs the repository's own ops scripts (ops/lib, ops/backends) the way ops/portal does, from the repository root.</summary>
public static class OpsScripts
{
    /// <summary>The checkout the tests were built from: the folder above the test binaries that holds Portal.sln.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The result of one bash run.</summary>
    public sealed record Run(int ExitCode, string StandardOutput, string StandardError)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StandardOutput}\n--- stderr\n{StandardError}";
    }

    /// <summary>Runs <paramref name="script"/> with bash in the repository root; kills it when <paramref name="timeout"/> passes.</summary>
    public static async Task<Run> BashAsync(string script, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("bash", ["-euo", "pipefail", "-c", script])
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bash -c '{script}' did not end within {timeout}; stderr so far: {await stderr}");
        }

        return new Run(process.ExitCode, await stdout, await stderr);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Portal.sln")) && Directory.Exists(Path.Combine(dir.FullName, "ops")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Portal.sln with an ops/ folder above {AppContext.BaseDirectory}.");
    }
}
