using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Portal.Provisioning.Logging;

/// <summary>
/// Serves <c>logging</c> instances on a shared rsyslog collector that receives RFC 5424 syslog over TCP.
/// An instance is a log stream <c>ls-&lt;id&gt;</c>; a binding is a random token (one per credential generation,
/// so a rotation overlaps) that apps send in the structured-data element <c>[portal@32473 token="…"]</c> of every
/// message. rsyslog looks the token up in a
/// table the driver writes (<c>tokens.json</c>) and appends the message to
/// <c>&lt;logDir&gt;/&lt;stream&gt;/&lt;yyyy-mm-dd&gt;.log</c>; messages without a valid token go to a quarantine
/// folder, never to a stream.
/// </summary>
/// <remarks>
/// <para>
/// rsyslog has no admin API: the driver keeps one record per stream in <c>&lt;configDir&gt;/streams/</c>
/// (binding generation → token), renders the whole lookup table from the records after every change, replaces it
/// atomically, sends SIGHUP to the PID in <c>pidFile</c> and returns only when a probe message routed by the
/// new table has landed (see <see cref="RsyslogCollector.PublishAsync"/>). Every call re-renders from the
/// records, so a call that crashed anywhere is finished by its retry. Changes hold an flock on the config
/// directory. The driver therefore runs on the collector's host (a worker beside it).
/// </para>
/// <para>
/// A token in the table is plain text, as rsyslog compares it literally; the table and the records are
/// mode 600. Stored lines leave the structured data out, so tokens never reach the log files. rsyslog
/// cannot close the TCP connection of one token, but it routes each message by its own token, so after
/// <see cref="RetireAsync"/> or <see cref="UnbindAsync"/> the next message with a removed token on an open
/// connection goes to quarantine.
/// </para>
/// <para>
/// A TLS backend (<see cref="BackendEndpoint.Tls"/>, written by <c>ops/backends/logging</c> with a platform CA) has a
/// second listener on <see cref="TlsPortSetting"/> that serves TLS with a certificate from
/// <see cref="BackendEndpoint.PlatformCa"/> (server auth only: the token stays the identity, and no longer travels in
/// clear text). Bindings then also carry <c>ca.crt</c>, <c>tlsPort</c> and <c>tlsCommand</c>. The plain port stays
/// open for <c>logger</c>, plain senders and the driver's own reload probes, which never carry an app's token.
/// </para>
/// </remarks>
public sealed class LoggingDriver : ILogStreamDriver
{
    /// <summary>The backend setting naming the directory holding <c>tokens.json</c> and the stream records.</summary>
    public const string ConfigDirSetting = "configDir";

    /// <summary>The backend setting naming the directory rsyslog writes the streams into.</summary>
    public const string LogDirSetting = "logDir";

    /// <summary>The backend setting naming rsyslogd's PID file (its <c>-i</c> option).</summary>
    public const string PidFileSetting = "pidFile";

    /// <summary>The backend setting naming the collector's TLS port (with <c>tls=true</c>); the plain port is the endpoint's.</summary>
    public const string TlsPortSetting = "tlsPort";

    /// <summary>The credential key of the TLS port apps send to.</summary>
    public const string TlsPortKey = "tlsPort";

    /// <summary>The credential key of the platform CA certificate (PEM) apps verify the collector with.</summary>
    public const string CaCertificateKey = "ca.crt";

    /// <summary>The credential key of the binding's token.</summary>
    public const string TokenKey = "token";

    /// <summary>The plan limit: days a stream keeps its files.</summary>
    public const string RetentionDaysLimit = "retentionDays";

    /// <summary>Retention when the plan sets none.</summary>
    public const int DefaultRetentionDays = 7;

    /// <summary>The most entries one <see cref="ReadLogsAsync"/> returns, whatever the query asks.</summary>
    public const int MaxReadLimit = 10_000;

    private readonly ILogger<LoggingDriver> _logger;
    private readonly TimeProvider _time;

    /// <summary>Creates the driver.</summary>
    public LoggingDriver(ILogger<LoggingDriver> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string Kind => "logging";

    /// <inheritdoc />
    public bool SupportsTls => true;

    /// <inheritdoc />
    public IReadOnlyList<DriverField> BackendSettings { get; } =
    [
        new(ConfigDirSetting, "Config directory",
            "Absolute path of the collector's config directory on its host: tokens.json (the lookup table rsyslog " +
            "loads), streams/ (one record per instance) and admin.password (must equal the admin password). " +
            "The portal worker beside the collector writes here.", Required: true),
        new(LogDirSetting, "Log directory",
            "Absolute path where rsyslog writes <stream>/<yyyy-mm-dd>.log, _quarantine/ and _probe/. The worker " +
            "reads and prunes the streams here.", Required: true),
        new(PidFileSetting, "PID file",
            "Absolute path of rsyslogd's PID file (-i); the worker sends SIGHUP to that process to reload the " +
            "lookup table. Host and Port are the TCP listener apps send RFC 5424 to.", Required: true),
        new(TlsPortSetting, "TLS port",
            "With tls=true: the collector's second listener, RFC 5424 over TLS with a certificate from the platform CA " +
            "(ops/backends/logging writes it as tlsPort). Bindings then carry ca.crt, tlsPort and tlsCommand."),
    ];

    /// <inheritdoc />
    public IReadOnlyList<DriverField> PlanLimits { get; } =
    [
        new(RetentionDaysLimit, "Retention (days)",
            "Days a stream's messages are kept at least: day files whose whole day is older are deleted by the " +
            "retention job and on plan change. No value: " +
            DefaultRetentionDays.ToString(CultureInfo.InvariantCulture) + " days; values below 1 count as 1."),
    ];

    /// <inheritdoc />
    public async Task<ProvisionResult> ProvisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var stream = LoggingNames.Stream(instance.InstanceId);
        var collector = RsyslogCollector.Open(instance.Backend);

        using (await collector.LockAsync(ct))
        {
            if (collector.ReadRecord(stream) is null)
            {
                instance.Progress.Report($"Recording stream {stream}");
                collector.WriteRecord(StreamRecord.For(instance.InstanceId));
            }

            // Also when the record existed: an earlier try may have crashed before the reload.
            await PublishAsync(collector, instance, ct);
        }

        _logger.LogInformation("Provisioned log stream {Stream} on {Backend}", stream, instance.Backend);
        instance.Progress.Report($"Stream {stream} is ready");
        return new ProvisionResult(new Dictionary<string, string> { ["stream"] = stream });
    }

    /// <inheritdoc />
    /// <remarks>Applies the plan's retention at once and re-publishes the lookup table.</remarks>
    public async Task UpdateAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var stream = LoggingNames.Stream(instance.InstanceId);
        var collector = RsyslogCollector.Open(instance.Backend);

        using (await collector.LockAsync(ct))
        {
            RequireRecord(collector, instance);
            await PublishAsync(collector, instance, ct);
        }

        var deleted = Prune(collector, instance);
        _logger.LogInformation("Updated log stream {Stream} on {Backend}: retention {Days} days, {Deleted} file(s) deleted",
            stream, instance.Backend, RetentionDays(instance), deleted);
    }

    /// <inheritdoc />
    public async Task DeprovisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var stream = LoggingNames.Stream(instance.InstanceId);
        var collector = RsyslogCollector.Open(instance.Backend);

        using (await collector.LockAsync(ct))
        {
            instance.Progress.Report($"Revoking the tokens of stream {stream}");
            collector.DeleteRecord(stream);
            // Also when the record was gone already: a crash may have left its tokens in the live table.
            // The HUP also closes the stream's open files, so nothing recreates them after the delete below.
            await PublishAsync(collector, instance, ct);

            var dir = collector.StreamDir(stream);
            if (Directory.Exists(dir))
            {
                instance.Progress.Report($"Deleting the files of stream {stream}");
                Directory.Delete(dir, recursive: true);
            }
        }

        _logger.LogInformation("Deprovisioned log stream {Stream} on {Backend}", stream, instance.Backend);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Each generation has a token of its own (<see cref="LoggingNames.BindingKey"/>), so a rotation's new token
    /// works beside the old one until <see cref="RetireAsync"/>. A repeated bind of the same generation replaces
    /// that generation's token; the token it replaces is refused from then on. A repair
    /// (<see cref="BindingContext.Existing"/>) puts back the token the generation had, so the app keeps sending with it.
    /// </remarks>
    public async Task<BindingCredentials> BindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var stream = LoggingNames.Stream(instance.InstanceId);
        var key = LoggingNames.BindingKey(binding.BindingId, binding.Generation);
        var token = binding.ExistingOrNewSecret(TokenKey);
        if (!TokenTable.IsToken(token))
        {
            throw new ArgumentException($"The existing credentials of {binding} hold a {TokenKey} that the driver does not make.", nameof(binding));
        }

        var collector = RsyslogCollector.Open(instance.Backend);

        using (await collector.LockAsync(ct))
        {
            var record = RequireRecord(collector, instance);
            // A table holding one token twice cannot be rendered, which would stop every stream's changes: an existing
            // token must be this generation's alone.
            if (collector.ReadAllRecords().Any(r => r.Tokens.Any(t => t.Value == token && (r.Stream != stream || t.Key != key))))
            {
                throw new ArgumentException($"The existing {TokenKey} of {binding} belongs to another binding.", nameof(binding));
            }

            instance.Progress.Report($"Issuing a token for binding {key} of stream {stream}");
            collector.WriteRecord(record.WithToken(key, token));
            await PublishAsync(collector, instance, ct);
        }

        _logger.LogInformation("Issued a token for binding {Binding} of log stream {Stream} on {Backend}",
            key, stream, instance.Backend);
        return Credentials(instance.Backend, stream, token);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Removes the generation's token only; from the moment this returns the collector quarantines messages
    /// carrying it, also on connections opened before, while the binding's other tokens keep landing.
    /// </remarks>
    public async Task RetireAsync(BindingContext binding, int generation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var key = LoggingNames.BindingKey(binding.BindingId, generation);
        await RevokeAsync(binding.Instance, k => k == key, $"binding {key}", ct);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Removes the token of every generation of the binding, found by key (so also a generation whose rotation
    /// crashed before the portal recorded it). From the moment this returns the collector quarantines messages
    /// with those tokens, also those on a connection opened before (rsyslog cannot close one token's
    /// connections; it checks every message).
    /// </remarks>
    public Task UnbindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        return RevokeAsync(binding.Instance, k => LoggingNames.IsKeyOfBinding(k, binding.BindingId),
            $"binding {LoggingNames.BindingKey(binding.BindingId)} (all generations)", ct);
    }

    /// <inheritdoc />
    public Task<HealthReport> CheckAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var stream = LoggingNames.Stream(instance.InstanceId);
        try
        {
            var collector = RsyslogCollector.Open(instance.Backend);
            if (collector.ReadRecord(stream) is not { } record)
            {
                return Task.FromResult(new HealthReport(false, $"stream {stream} is not provisioned"));
            }

            if (collector.RunningPid() is null)
            {
                return Task.FromResult(new HealthReport(false, $"stream {stream} is provisioned, but the collector is not running"));
            }

            var table = collector.ReadTable();
            var missing = record.Tokens.Values.Count(t => !table.TryGetValue(t, out var s) || s != stream);
            if (missing > 0)
            {
                return Task.FromResult(new HealthReport(false,
                    $"stream {stream}: {missing} token(s) are not in the lookup table yet (an unfinished change; retry it)"));
            }

            return Task.FromResult(new HealthReport(true, $"stream {stream} is provisioned, {record.Tokens.Count} token(s)"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException
                                      or InvalidDataException or System.Text.Json.JsonException)
        {
            return Task.FromResult(new HealthReport(false, $"backend {instance.Backend} not usable: {e.Message}"));
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The stream exists while its record does. A generation counts as present when its token is in the lookup table
    /// routed to the stream (the table on disk, which every publish makes live); a token of the record missing there,
    /// or a token routed to the stream that no generation holds, is a difference. A collector that is not running
    /// cannot be observed.
    /// </remarks>
    public Task<Observation> ObserveAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var stream = LoggingNames.Stream(instance.InstanceId);
        var collector = RsyslogCollector.Open(instance.Backend);
        if (collector.RunningPid() is null)
        {
            throw new InvalidOperationException($"The rsyslog collector of {instance.Backend} is not running (no live rsyslogd in {collector.PidFile}).");
        }

        var record = collector.ReadRecord(stream);
        var routed = collector.ReadTable().Where(e => e.Value == stream).Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        var tokens = record?.Tokens ?? new Dictionary<string, string>();
        var differences = tokens.Where(t => !routed.Contains(t.Value))
            .Select(t => $"the lookup table lacks the token of {t.Key} of stream {stream}")
            .Order(StringComparer.Ordinal)
            .ToList();
        var strays = routed.Except(tokens.Values, StringComparer.Ordinal).Count();
        if (strays > 0)
        {
            differences.Add($"the lookup table routes {strays.ToString(CultureInfo.InvariantCulture)} token(s) to stream {stream} that no binding of it holds");
        }

        var present = tokens.Where(t => routed.Contains(t.Value)).Select(t => LoggingNames.ParseBindingKey(t.Key));
        return Task.FromResult(Observation.Of(record is not null, differences, present));
    }

    /// <inheritdoc />
    public async Task<HealthReport> TestBackendAsync(BackendEndpoint backend, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(backend);
        try
        {
            var collector = RsyslogCollector.Open(backend);
            if (collector.RunningPid() is not { } pid)
            {
                return new HealthReport(false, $"no live rsyslogd in {collector.PidFile}");
            }

            using (var client = new TcpClient())
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                await client.ConnectAsync(backend.Host, backend.Port, timeout.Token);
            }

            var tls = backend.Tls ? await TestTlsAsync(backend, ct) : "";

            // The driver renders the table here; a failing write would leave revocations undone.
            RsyslogCollector.WriteAtomically(Path.Combine(collector.ConfigDir, ".write-test"), "ok\n");
            File.Delete(Path.Combine(collector.ConfigDir, ".write-test"));
            var tokens = collector.ReadTable().Count(e => !e.Value.StartsWith(TokenTable.ProbePrefix, StringComparison.Ordinal));
            var streams = collector.ReadAllRecords().Count;
            return new HealthReport(true,
                $"rsyslogd (pid {pid.ToString(CultureInfo.InvariantCulture)}) accepts TCP on {backend.Host}:" +
                $"{backend.Port.ToString(CultureInfo.InvariantCulture)}{tls}; {streams} stream(s), {tokens} token(s)");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Wrong secret, missing directories and a closed port are the answer to "test connection", not a crash.
            _logger.LogWarning("Backend test of {Backend} failed: {Error}", backend, e.Message);
            return new HealthReport(false, e.Message);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LogEntry>> ReadLogsAsync(InstanceContext instance, LogQuery query, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        var limit = Math.Min(query.Limit, MaxReadLimit);
        var collector = RsyslogCollector.Open(instance.Backend);
        RequireRecord(collector, instance);

        // Files are named by the day the collector received a message; timestamps are the sender's, which may
        // run a little ahead, so one day before `since` is read too.
        var firstDay = query.Since is { } since ? DateOnly.FromDateTime(since.UtcDateTime).AddDays(-1) : DateOnly.MinValue;
        var newestFirst = new List<LogEntry>(Math.Min(limit, 1024));
        foreach (var (path, _) in LogFiles.DayFiles(collector.StreamDir(LoggingNames.Stream(instance.InstanceId)))
                     .Where(f => f.Day >= firstDay))
        {
            try
            {
                await foreach (var line in LogFiles.ReadLinesBackwardAsync(path, ct))
                {
                    if (LogFiles.ParseLine(line) is not { } entry
                        || (query.Since is not null && entry.Timestamp < query.Since)
                        || (!string.IsNullOrEmpty(query.Contains)
                            && !entry.Message.Contains(query.Contains, StringComparison.OrdinalIgnoreCase)))
                    {
                        continue;
                    }

                    newestFirst.Add(entry);
                    if (newestFirst.Count == limit)
                    {
                        break;
                    }
                }
            }
            catch (FileNotFoundException)
            {
                // Retention removed the file after we listed it.
            }

            if (newestFirst.Count == limit)
            {
                break;
            }
        }

        // Oldest first by the sender's time: messages sent over separate connections may reach the file out of order.
        // The sort is stable, so messages of one instant keep the order they arrived in.
        newestFirst.Reverse();
        return newestFirst.OrderBy(e => e.Timestamp).ToList();
    }

    /// <inheritdoc />
    public Task<int> ApplyRetentionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var collector = RsyslogCollector.Open(instance.Backend);
        var deleted = Prune(collector, instance);
        _logger.LogInformation("Retention of log stream {Stream} on {Backend}: {Deleted} file(s) deleted",
            LoggingNames.Stream(instance.InstanceId), instance.Backend, deleted);
        return Task.FromResult(deleted);
    }

    /// <summary>
    /// Deletes quarantine day files older than <paramref name="retentionDays"/> (the quarantine belongs to the
    /// collector, not to an instance); returns how many went. For a recurring job beside the collector.
    /// </summary>
    public Task<int> ApplyQuarantineRetentionAsync(BackendEndpoint backend, int retentionDays, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var collector = RsyslogCollector.Open(backend);
        return Task.FromResult(DeleteExpired(collector.QuarantineDir, retentionDays));
    }

    /// <summary>
    /// What an app needs to send to the stream; the whole set is secret because of the token. A TLS backend adds
    /// <c>tlsPort</c>, <c>tlsCommand</c> and <c>ca.crt</c> and keeps the plain keys as they were.
    /// </summary>
    internal static BindingCredentials Credentials(BackendEndpoint backend, string stream, string token)
    {
        var port = backend.Port.ToString(CultureInfo.InvariantCulture);
        var sd = LoggingNames.StructuredData(token);
        var values = new OrderedDictionary<string, string>
        {
            ["host"] = backend.Host,
            ["port"] = port,
            ["protocol"] = "tcp",
            ["format"] = "rfc5424",
            ["sdId"] = LoggingNames.SdId,
            [TokenKey] = token,
            ["structuredData"] = sd,
            ["stream"] = stream,
            // Tokens are alphanumeric and host is an address, so the shell line needs no further quoting.
            ["loggerCommand"] =
                $"logger --tcp --rfc5424 -n {backend.Host} -P {port} -t myapp --sd-id {LoggingNames.SdId} " +
                $"--sd-param '{LoggingNames.TokenParameter}=\"{token}\"' 'hello from myapp'",
        };
        if (backend.Tls)
        {
            var tlsPort = TlsPort(backend).ToString(CultureInfo.InvariantCulture);
            values[TlsPortKey] = tlsPort;
            values["tlsCommand"] = TlsCommand(backend.Host, tlsPort, sd);
            values[CaCertificateKey] = backend.RequireCa().CertificatePem;
        }

        return new BindingCredentials(values);
    }

    /// <summary>
    /// A shell line that sends one message over TLS with <c>openssl s_client</c>, verifying the collector with the
    /// file <c>ca.crt</c> in the current directory (the binding's <c>ca.crt</c>, as a servicebinding.io directory has it).
    /// <c>-no_ign_eof</c> undoes the <c>-ign_eof</c> that <c>-quiet</c> implies, so s_client closes at the end of its
    /// input, and it closes gracefully (close_notify, then reads what the collector still sends): a sender that just
    /// drops the connection may lose its last messages.
    /// </summary>
    internal static string TlsCommand(string host, string tlsPort, string structuredData)
    {
        var isIp = IPAddress.TryParse(host, out var address);
        var connect = address?.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{host}]:{tlsPort}" : $"{host}:{tlsPort}";
        // The SD element holds only the SD-ID and an alphanumeric token, so single quotes suffice.
        return $"printf '<14>1 %s %s myapp - - {structuredData} %s\\n' \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" \"$(uname -n)\" " +
               $"'hello from myapp over TLS' | openssl s_client -quiet -no_ign_eof -verify_return_error -CAfile ca.crt " +
               $"{(isIp ? "-verify_ip" : "-verify_hostname")} {host} -connect {connect}";
    }

    /// <summary>The TLS port of a TLS backend; an error naming the setting when it is missing or no port.</summary>
    private static int TlsPort(BackendEndpoint backend) =>
        int.TryParse(backend.Setting(TlsPortSetting), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
        && port is > 0 and <= 65535
            ? port
            : throw new InvalidOperationException(
                $"The logging backend {backend} serves TLS (tls=true) but has no valid {TlsPortSetting} setting.");

    /// <summary>
    /// Shakes hands with the TLS listener, trusting only the platform CA, and closes gracefully; returns the part of
    /// the health message about it.
    /// </summary>
    private static async Task<string> TestTlsAsync(BackendEndpoint backend, CancellationToken ct)
    {
        var ca = backend.RequireCa();
        var port = TlsPort(backend);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        using var client = new TcpClient();
        await client.ConnectAsync(backend.Host, port, timeout.Token);
        await using var ssl = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = backend.Host,
            RemoteCertificateValidationCallback = ca.ServerValidator,
        }, timeout.Token);
        // close_notify, FIN, then read to the collector's EOF, so the session tickets it sent are read and the
        // close does not turn into a reset.
        await ssl.ShutdownAsync();
        client.Client.Shutdown(SocketShutdown.Send);
        var buffer = new byte[512];
        try
        {
            while (await ssl.ReadAsync(buffer, timeout.Token) > 0)
            {
            }
        }
        catch (IOException)
        {
            // The collector closed without its own close_notify: the handshake, which is what we test, succeeded.
        }

        return $" and TLS on {backend.Host}:{port.ToString(CultureInfo.InvariantCulture)} (certificate verified by the platform CA)";
    }

    private static int RetentionDays(InstanceContext instance) =>
        instance.Limits.TryGetValue(RetentionDaysLimit, out var days) ? Math.Max(days, 1) : DefaultRetentionDays;

    private int Prune(RsyslogCollector collector, InstanceContext instance)
    {
        var stream = LoggingNames.Stream(instance.InstanceId);
        var days = RetentionDays(instance);
        var deleted = DeleteExpired(collector.StreamDir(stream), days);
        if (deleted > 0)
        {
            instance.Progress.Report(
                $"Deleted {deleted.ToString(CultureInfo.InvariantCulture)} file(s) of stream {stream} older than " +
                $"{days.ToString(CultureInfo.InvariantCulture)} day(s)");
        }

        return deleted;
    }

    private int DeleteExpired(string directory, int retentionDays)
    {
        var now = _time.GetUtcNow();
        var deleted = 0;
        foreach (var (path, day) in LogFiles.DayFiles(directory))
        {
            if (LogFiles.IsExpired(day, now, retentionDays))
            {
                File.Delete(path);
                deleted++;
            }
        }

        return deleted;
    }

    /// <summary>Removes the tokens whose keys match from the instance's record and returns once the table without them is live.</summary>
    private async Task RevokeAsync(InstanceContext instance, Func<string, bool> keys, string what, CancellationToken ct)
    {
        var stream = LoggingNames.Stream(instance.InstanceId);
        var collector = RsyslogCollector.Open(instance.Backend);

        using (await collector.LockAsync(ct))
        {
            if (collector.ReadRecord(stream) is { } record && record.Tokens.Keys.Any(keys))
            {
                instance.Progress.Report($"Revoking the token(s) of {what} of stream {stream}");
                collector.WriteRecord(record.WithoutTokens(keys));
            }

            // Also when nothing changed here: an earlier try may have crashed before the reload.
            await PublishAsync(collector, instance, ct);
        }

        _logger.LogInformation("Revoked the token(s) of {Binding} of log stream {Stream} on {Backend}",
            what, stream, instance.Backend);
    }

    private static StreamRecord RequireRecord(RsyslogCollector collector, InstanceContext instance) =>
        collector.ReadRecord(LoggingNames.Stream(instance.InstanceId)) ?? throw new InvalidOperationException(
            $"Log stream {LoggingNames.Stream(instance.InstanceId)} is not provisioned on {instance.Backend}; " +
            "provision the instance first.");

    private async Task PublishAsync(RsyslogCollector collector, InstanceContext instance, CancellationToken ct)
    {
        var took = await collector.PublishAsync(ct);
        _logger.LogDebug("Lookup table of {Backend} live after {Milliseconds} ms", instance.Backend, took.TotalMilliseconds);
    }
}
