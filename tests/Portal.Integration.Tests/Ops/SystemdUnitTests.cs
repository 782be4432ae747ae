using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Portal.Data;
using Portal.Testing;

namespace Portal.Integration.Tests.Ops;

/// <summary>
/// The systemd units of ops/deploy/systemd, checked by systemd itself (<c>systemd-analyze verify</c> and <c>security</c>)
/// in a throwaway root laid out as the units expect: /usr/bin/dotnet, the hosts' assemblies under /opt/portal, the
/// settings files under /etc/portal. No systemd needs to run here.
/// </summary>
public sealed class SystemdUnitTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string UnitsDirectory = Path.Combine(OpsScripts.RepositoryRoot, "ops", "deploy", "systemd");

    // Instances of the worker template: two site queues, as a company with two sites runs them.
    private static readonly string[] Units = ["portal-migrator.service", "portal-web.service", "portal-worker@default.service", "portal-worker@site-b.service"];

    private readonly string _root = Directory.CreateTempSubdirectory("portal-systemd-root-").FullName;

    [Fact]
    public async Task Units_VerifyInARootWithThePublishedLayout_SystemdFindsNoProblem()
    {
        var analyze = SystemdAnalyze();
        await LayOutRootAsync();

        var verify = await RunAsync(analyze, ["verify", "--man=no", $"--root={_root}", .. Units]);
        // verify exits 0 on unknown keys and bad values too: any word from it is a finding.
        Assert.True(verify.ExitCode == 0 && verify.Output.Trim().Length == 0, $"systemd-analyze verify: {verify}");

        // The hardening, as systemd scores it (0 = locked down, 10 = exposed): fail if an option is dropped.
        foreach (var unit in new[] { "portal-web.service", "portal-worker@default.service", "portal-migrator.service" })
        {
            var security = await RunAsync(analyze, ["security", "--offline=yes", $"--root={_root}", "--threshold=25", unit]);
            var level = security.Output.Split('\n').LastOrDefault(l => l.Contains("Overall exposure level", StringComparison.Ordinal)) ?? "";
            output.WriteLine($"figures: systemd-analyze security {unit}: {level.Split(':').Last().Trim()}");
            Assert.True(security.ExitCode == 0, $"{unit} is more exposed than 2.5: {security}");
        }
    }

    [Fact]
    public void Units_StartTheHostsAssembliesAndWorkerQueueFromTheInstanceName()
    {
        foreach (var (unit, host) in new[] { ("portal-web.service", "web"), ("portal-worker@.service", "worker"), ("portal-migrator.service", "migrator") })
        {
            var lines = File.ReadAllLines(Path.Combine(UnitsDirectory, unit));
            var execStart = Assert.Single(lines, l => l.StartsWith("ExecStart=", StringComparison.Ordinal));
            Assert.Equal($"ExecStart=/usr/bin/dotnet /opt/portal/{host}/{Path.GetFileName(HostAssemblies.AssemblyPath(host))}", execStart);
            Assert.Contains("Environment=DataProtection__CertificatePath=%d/dataprotection.pfx", lines);
            Assert.Contains(lines, l => l.StartsWith("LoadCredential=ConnectionStrings__Portal:", StringComparison.Ordinal));
            if (host != "migrator")
            {
                Assert.Contains("Requires=portal-migrator.service", lines);
                Assert.Contains(lines, l => l.StartsWith("After=portal-migrator.service", StringComparison.Ordinal));
            }
        }

        var worker = File.ReadAllLines(Path.Combine(UnitsDirectory, "portal-worker@.service"));
        Assert.Contains("Environment=Jobs__Queues__0=%i", worker);
        Assert.Contains("Jobs:Queues", AppConfigurationKeys.Known);
        Assert.Contains("Environment=Jobs__RunServer=false", File.ReadAllLines(Path.Combine(UnitsDirectory, "portal-web.service")));
    }

    [Fact]
    public void SettingsFilesAndCredentials_NameOnlySettingsTheAppReads()
    {
        var names = Directory.GetFiles(Path.Combine(UnitsDirectory, "etc"))
            .SelectMany(File.ReadAllLines)
            .Concat(Directory.GetFiles(UnitsDirectory, "*.service").SelectMany(File.ReadAllLines)
                .Where(l => l.StartsWith("Environment=", StringComparison.Ordinal))
                .SelectMany(l => l["Environment=".Length..].Split(' ')))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('=')[0])
            .Concat(Directory.GetFiles(UnitsDirectory, "*.service").SelectMany(File.ReadAllLines)
                .Where(l => l.StartsWith("LoadCredential=", StringComparison.Ordinal))
                .Select(l => l["LoadCredential=".Length..].Split(':')[0])
                .Where(name => !name.Contains('.', StringComparison.Ordinal))) // files, not settings (PortalSettings.AddCredentials)
            .Distinct()
            .ToList();

        Assert.Contains("ConnectionStrings__Portal", names);
        var unknown = AppConfigurationKeys.Unknown(names);
        Assert.True(unknown.Count == 0, $"ops/deploy/systemd sets settings no Portal host reads: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void Credentials_FilesNamedBySettings_AreReadAsSettingsAndFilesWithADotAreNot()
    {
        File.WriteAllText(Path.Combine(_root, "ConnectionStrings__Portal"), "Host=db;Database=portal\n");
        File.WriteAllText(Path.Combine(_root, "dataprotection.pfx"), "not a setting");

        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Portal"] = "from the environment" })
            .AddCredentials(_root)
            .Build();

        Assert.Equal("Host=db;Database=portal", configuration["ConnectionStrings:Portal"]);
        Assert.DoesNotContain(configuration.AsEnumerable(), kv => kv.Key.Contains("pfx", StringComparison.Ordinal));
    }

    /// <summary>The root: systemd's own units, ours, the dotnet host, each host's assembly where ExecStart= runs it.</summary>
    private async Task LayOutRootAsync()
    {
        var systemUnits = "/usr/lib/systemd/system";
        Assert.True(Directory.Exists(systemUnits), $"{systemUnits} is missing: {InstallStep}.");
        var copied = await OpsScripts.BashAsync(
            $"mkdir -p '{_root}/usr/lib/systemd' '{_root}/etc/systemd/system' '{_root}/usr/bin' '{_root}/etc/portal/credentials' && " +
            $"cp -a {systemUnits} '{_root}/usr/lib/systemd/' && cp {UnitsDirectory}/*.service '{_root}/etc/systemd/system/' && " +
            $"cp {UnitsDirectory}/etc/* '{_root}/etc/portal/'",
            TimeSpan.FromMinutes(1));
        Assert.True(copied.ExitCode == 0, copied.ToString());
        File.Copy(DotnetHost(), Path.Combine(_root, "usr", "bin", "dotnet"));
        foreach (var host in new[] { "web", "worker", "migrator" })
        {
            var folder = Directory.CreateDirectory(Path.Combine(_root, "opt", "portal", host)).FullName;
            File.Copy(HostAssemblies.AssemblyPath(host), Path.Combine(folder, Path.GetFileName(HostAssemblies.AssemblyPath(host))));
        }

        foreach (var credential in new[] { "connection-string", "dataprotection.password", "dataprotection.pfx" })
        {
            await File.WriteAllTextAsync(Path.Combine(_root, "etc", "portal", "credentials", credential), "placeholder");
        }

        File.Copy(Path.Combine(_root, "etc", "portal", "worker-default.env"), Path.Combine(_root, "etc", "portal", "worker-site-b.env"));
    }

    private const string InstallStep = "run `ops/portal test`, which installs systemd (apt-get install systemd) for systemd-analyze";

    private static string SystemdAnalyze()
    {
        const string path = "/usr/bin/systemd-analyze";
        Assert.True(File.Exists(path), $"{path} is missing: {InstallStep}.");
        return path;
    }

    /// <summary>The dotnet executable that runs these tests' hosts (the units run /usr/bin/dotnet).</summary>
    private static string DotnetHost()
    {
        var candidates = new[] { Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"), "/usr/bin/dotnet" }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "dotnet")));
        var found = candidates.FirstOrDefault(File.Exists) ?? throw new FileNotFoundException("No dotnet executable found (DOTNET_HOST_PATH, /usr/bin, PATH).");
        return new FileInfo(found).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? found;
    }

    private sealed record Result(int ExitCode, string Output)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"exit {ExitCode}\n{Output}");
    }

    private static async Task<Result> RunAsync(string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["SYSTEMD_COLORS"] = "0";
        start.Environment["SYSTEMD_PAGER"] = "";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout + await stderr);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
