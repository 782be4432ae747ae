using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Portal.Provisioning.Logging;

/// <summary>
/// The rsyslog collector of one <see cref="BackendEndpoint"/>, seen from the host it runs on: its config
/// directory (lookup table and stream records), its log directory and its PID file. The driver changes
/// tokens by rewriting files here and sending SIGHUP, so it must run on the collector's host as a user that
/// may write the config directory, read the logs and signal rsyslogd.
/// </summary>
internal sealed class RsyslogCollector
{
    /// <summary>How long a new lookup table may take to become live before the call fails.</summary>
    public static readonly TimeSpan ReloadTimeout = TimeSpan.FromSeconds(15);

    /// <summary>How long a call waits for another call holding the config directory's lock.</summary>
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(60);

    private const string MarkerFile = "admin.password";
    private const string LockFile = ".lock";
    private const string RecordsFolder = "streams";
    private const int SigHup = 1;
    // A probe sent before rsyslog handled the HUP is dropped, so probes repeat; the file is looked at more often.
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

    private RsyslogCollector(BackendEndpoint backend, string configDir, string logDir, string pidFile)
    {
        Backend = backend;
        ConfigDir = configDir;
        LogDir = logDir;
        PidFile = pidFile;
    }

    public BackendEndpoint Backend { get; }

    public string ConfigDir { get; }

    public string LogDir { get; }

    public string PidFile { get; }

    public string TableFile => Path.Combine(ConfigDir, TokenTable.FileName);

    private string RecordsDir => Path.Combine(ConfigDir, RecordsFolder);

    private string ProbeDir => Path.Combine(LogDir, LoggingNames.ProbeFolder);

    /// <summary>
    /// Reads the endpoint's directory settings and checks that its admin password is the collector's marker
    /// secret (<c>&lt;configDir&gt;/admin.password</c>), so an endpoint string cannot point the driver at
    /// another collector's files by mistake.
    /// </summary>
    public static RsyslogCollector Open(BackendEndpoint backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var collector = new RsyslogCollector(
            backend,
            AbsolutePath(backend, LoggingDriver.ConfigDirSetting),
            AbsolutePath(backend, LoggingDriver.LogDirSetting),
            AbsolutePath(backend, LoggingDriver.PidFileSetting));
        collector.VerifyMarker();
        return collector;
    }

    public string StreamDir(string stream) => Path.Combine(LogDir, stream);

    public string QuarantineDir => Path.Combine(LogDir, LoggingNames.QuarantineFolder);

    /// <summary>
    /// Takes the config directory's lock: every change reads the records, renders the table and reloads
    /// while holding it, so two calls (threads, processes) never publish a table that misses the other's
    /// change. .NET takes an advisory flock for <see cref="FileShare.None"/>.
    /// </summary>
    public async Task<IDisposable> LockAsync(CancellationToken ct)
    {
        var path = Path.Combine(ConfigDir, LockFile);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            // Only "in use" is worth waiting for, not a missing directory or a denied permission.
            catch (IOException e) when (e is not (DirectoryNotFoundException or FileNotFoundException)
                                        && deadline.Elapsed < LockTimeout)
            {
                await Task.Delay(50, ct);
            }
        }
    }

    public StreamRecord? ReadRecord(string stream)
    {
        var path = RecordPath(stream);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        var record = TokenTable.DeserializeRecord(text)
            ?? throw new InvalidDataException($"{path} is not a stream record.");
        return record.Stream == stream ? record : throw new InvalidDataException($"{path} records another stream.");
    }

    public IReadOnlyList<StreamRecord> ReadAllRecords() =>
        !Directory.Exists(RecordsDir)
            ? []
            : Directory.EnumerateFiles(RecordsDir, "ls-*.json")
                .Select(p => Path.GetFileNameWithoutExtension(p))
                .Where(LoggingNames.IsStream)
                .Order(StringComparer.Ordinal)
                .Select(ReadRecord)
                .OfType<StreamRecord>()
                .ToList();

    public void WriteRecord(StreamRecord record)
    {
        Directory.CreateDirectory(RecordsDir);
        WriteAtomically(RecordPath(record.Stream), TokenTable.SerializeRecord(record));
    }

    public void DeleteRecord(string stream) => File.Delete(RecordPath(stream));

    /// <summary>The lookup table rsyslog has on disk (token → value); empty when there is none.</summary>
    public IReadOnlyDictionary<string, string> ReadTable() =>
        File.Exists(TableFile) ? TokenTable.Parse(File.ReadAllText(TableFile)) : new Dictionary<string, string>();

    /// <summary>
    /// Renders the lookup table from all records, replaces <c>tokens.json</c> atomically, sends SIGHUP and
    /// waits until a probe routed by the new table's probe entry lands: only then is every token added or
    /// removed here in force. Call it holding <see cref="LockAsync"/>. Returns how long the reload took.
    /// </summary>
    /// <remarks>
    /// rsyslog keeps its old table when the new file fails to load (it only logs that), and a HUP is handled
    /// asynchronously; the probe catches both. The collector works off one queue in arrival order, so when the
    /// probe is written every message received before it has been routed too, and the HUP has closed the
    /// stream files it had open.
    /// </remarks>
    public async Task<TimeSpan> PublishAsync(CancellationToken ct)
    {
        var nonce = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 24);
        var probeValue = TokenTable.ProbePrefix + nonce;
        var probeToken = SecretGenerator.Password();
        var table = TokenTable.Render(ReadAllRecords(), probeToken, probeValue);

        ClearProbes();
        // Written even when rsyslogd is down, so a collector started later loads every revocation made so far.
        WriteAtomically(TableFile, table);
        var pid = RunningPid() ?? throw new InvalidOperationException(
            $"The rsyslog collector of {Backend} is not running (no live rsyslogd in {PidFile}); the lookup table " +
            "takes effect when it starts. Start it and retry.");

        var elapsed = Stopwatch.StartNew();
        if (Kill(pid, SigHup) != 0)
        {
            throw new InvalidOperationException(
                $"Cannot signal rsyslogd (pid {pid.ToString(CultureInfo.InvariantCulture)}): errno " +
                Marshal.GetLastPInvokeError().ToString(CultureInfo.InvariantCulture));
        }

        var probeFile = Path.Combine(ProbeDir, probeValue + ".log");
        var frame = Rfc5424.Frame(Rfc5424.Format(
            DateTimeOffset.UtcNow, "portal", "portal-driver", LoggingNames.ProbeMsgId,
            LoggingNames.StructuredData(probeToken), "lookup table probe " + nonce));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ReloadTimeout);
        TcpClient? client = null;
        try
        {
            while (true)
            {
                try
                {
                    if (client is null)
                    {
                        client = new TcpClient { NoDelay = true };
                        await client.ConnectAsync(Backend.Host, Backend.Port, timeout.Token);
                    }

                    await client.GetStream().WriteAsync(frame, timeout.Token);
                }
                catch (Exception e) when (e is SocketException or IOException)
                {
                    client?.Dispose();
                    client = null;
                }

                if (await LandedAsync(probeFile, timeout.Token))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"The rsyslog collector of {Backend} did not route a probe by the new lookup table within " +
                $"{ReloadTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s. Its log (rsyslogd's stderr) " +
                $"says why, e.g. that {TableFile} could not be reloaded or the probe folder is not writable.");
        }
        finally
        {
            if (client is not null)
            {
                try
                {
                    // A graceful close (FIN after our last write) so the collector reads everything we sent.
                    client.Client.Shutdown(SocketShutdown.Send);
                }
                catch (SocketException)
                {
                    // Not connected (yet): nothing to close gracefully.
                }

                client.Dispose();
            }
        }

        ClearProbes();
        return elapsed.Elapsed;
    }

    private static async Task<bool> LandedAsync(string probeFile, CancellationToken ct)
    {
        var sent = Stopwatch.StartNew();
        do
        {
            await Task.Delay(PollInterval, ct);
            if (File.Exists(probeFile) && new FileInfo(probeFile).Length > 0)
            {
                return true;
            }
        }
        while (sent.Elapsed < ProbeInterval);

        return false;
    }

    /// <summary>The PID of the live rsyslogd the PID file names, or null (no file, exited, zombie, PID reused).</summary>
    public int? RunningPid()
    {
        if (!File.Exists(PidFile)
            || !int.TryParse(File.ReadAllText(PidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || pid <= 0)
        {
            return null;
        }

        try
        {
            var comm = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/comm").Trim();
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // The state follows the parenthesised command name; Z and X are exited processes.
            var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
            return comm == "rsyslogd" && state is not ("Z" or "X") ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Writes a file by writing a temp file beside it and renaming it over, so readers see old or new, never half.</summary>
    public static void WriteAtomically(string path, string text)
    {
        var temp = $"{path}.tmp-{RandomNumberGenerator.GetHexString(8, lowercase: true)}";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            // The table and the records hold tokens: owner only.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(Encoding.UTF8.GetBytes(text));
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private string RecordPath(string stream) =>
        LoggingNames.IsStream(stream)
            ? Path.Combine(RecordsDir, stream + ".json")
            : throw new ArgumentException($"'{stream}' is not a stream name.", nameof(stream));

    private void ClearProbes()
    {
        if (!Directory.Exists(ProbeDir))
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(ProbeDir, TokenTable.ProbePrefix + "*.log"))
        {
            File.Delete(file);
        }
    }

    private void VerifyMarker()
    {
        var path = Path.Combine(ConfigDir, MarkerFile);
        string marker;
        try
        {
            marker = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"Cannot read {path}, the collector's admin secret: {e.Message} Is {LoggingDriver.ConfigDirSetting} right?", e);
        }

        if (marker.Length == 0 || !CryptographicOperations.FixedTimeEquals(
                Encoding.UTF8.GetBytes(marker), Encoding.UTF8.GetBytes(Backend.AdminPassword)))
        {
            throw new UnauthorizedAccessException(
                $"The admin password of {Backend} is not the collector's secret in {path}.");
        }
    }

    private static string AbsolutePath(BackendEndpoint backend, string setting)
    {
        var value = backend.Setting(setting) ?? throw new InvalidOperationException(
            $"The logging backend {backend} has no {setting} setting.");
        return Path.IsPathFullyQualified(value)
            ? Path.TrimEndingDirectorySeparator(value)
            : throw new InvalidOperationException($"The {setting} setting of {backend} must be an absolute path.");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
