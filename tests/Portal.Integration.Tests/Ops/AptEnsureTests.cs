using Portal.Testing;

namespace Portal.Integration.Tests.Ops;

/// <summary>
/// The install path of a fresh machine: ops/portal starts the backend scripts in parallel, and each installs its
/// packages with apt_ensure. apt's own locks fail at once when held, so without ours all but one would die.
/// </summary>
public sealed class AptEnsureTests
{
    // GNU hello: small, in Debian 12, and needed by nothing else here, so the test may remove and install it.
    private const string Package = "hello";

    [Fact]
    public async Task AptEnsure_SamePackageFromSeveralProcessesAtOnce_AllSucceedAndOneInstalls()
    {
        var removed = await OpsScripts.BashAsync(
            "source ops/lib/apt.sh; " +
            $"if apt_installed {Package}; then as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q -o DPkg::Lock::Timeout=600 {Package}; fi; " +
            $"! apt_installed {Package}",
            TimeSpan.FromMinutes(5));
        Assert.True(removed.ExitCode == 0,
            $"Could not remove {Package} to exercise the install path (the tests need root or password-less sudo, as ops/portal does): {removed}");

        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            OpsScripts.BashAsync($"source ops/lib/apt.sh; apt_ensure {Package}; apt_installed {Package}", TimeSpan.FromMinutes(10))));

        Assert.All(runs, run => Assert.True(run.ExitCode == 0, $"apt_ensure failed in one of four processes: {run}"));
        var installs = runs.Count(run => run.StandardError.Contains($"installing Debian packages: {Package}", StringComparison.Ordinal));
        Assert.True(installs == 1, $"{installs} of 4 processes ran apt-get install; the others must find it installed once they hold the lock.");
    }
}
