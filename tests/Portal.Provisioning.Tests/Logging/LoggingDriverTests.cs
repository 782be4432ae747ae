using System.Globalization;
using System.Runtime.Versioning;
using Portal.Provisioning.Logging;

namespace Portal.Provisioning.Tests.Logging;

/// <summary>
/// Integration tests against the real rsyslog collector of <see cref="TestLogging"/>: apps send with
/// util-linux <c>logger --tcp --rfc5424</c> or a plain TCP socket, and read back through the driver's
/// <see cref="ILogStreamDriver.ReadLogsAsync"/>.
/// </summary>
/// <remarks>The collector is Linux-only (SIGHUP, /proc), and so are these tests.</remarks>
[SupportedOSPlatform("linux")]
public sealed class LoggingDriverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ProvisionAsync_CalledTwice_IsIdempotentAndRecordsStream()
    {
        await using var scope = new LoggingScope();
        var instance = scope.NewInstance();
        var stream = LoggingNames.Stream(instance.InstanceId);

        var first = await scope.Driver.ProvisionAsync(instance, Ct);
        var second = await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(stream, first.Outputs["stream"]);
        Assert.Equal(first.Outputs, second.Outputs);
        Assert.True(File.Exists(TestLogging.RecordFile(instance)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(TestLogging.RecordFile(instance)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(TestLogging.TableFile));
        Assert.DoesNotContain(stream, TestLogging.Table().Values);
        var health = await scope.Driver.CheckAsync(instance, Ct);
        Assert.True(health.Healthy, health.Message);
        Assert.Contains("Recording stream " + stream, ((RecordingProgress)instance.Progress).Lines);
    }

    [Fact]
    public void KindSettingsAndLimits_Logging_AreDeclared()
    {
        IServiceDriver driver = LoggingScope.NewDriver();

        Assert.Equal("logging", driver.Kind);
        Assert.Equal(["configDir", "logDir", "pidFile", "tlsPort"], driver.BackendSettings.Select(s => s.Name));
        Assert.Equal(["configDir", "logDir", "pidFile"], driver.BackendSettings.Where(s => s.Required).Select(s => s.Name));
        Assert.Equal(["retentionDays"], driver.PlanLimits.Select(l => l.Name));
        Assert.Empty(driver.InstanceParameters);
        Assert.IsAssignableFrom<ILogStreamDriver>(driver);
    }

    [Fact]
    public async Task BindAsync_LoggerMessages_ReadBackThroughReadLogs()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var binding = LoggingScope.NewBinding(instance);

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        var v = credentials.Values;
        // A TLS collector adds its keys after the plain ones, which stay as they were (LoggingTlsTests covers them).
        Assert.Equal(
            ["host", "port", "protocol", "format", "sdId", "token", "structuredData", "stream", "loggerCommand",
                .. instance.Backend.Tls ? new[] { "tlsPort", "tlsCommand", "ca.crt" } : []],
            v.Keys);
        Assert.Equal(instance.Backend.Host, v["host"]);
        Assert.Equal(instance.Backend.Port.ToString(CultureInfo.InvariantCulture), v["port"]);
        Assert.Equal("tcp", v["protocol"]);
        Assert.Equal("portal@32473", v["sdId"]);
        Assert.Equal(32, v["token"].Length);
        Assert.Equal($"[portal@32473 token=\"{v["token"]}\"]", v["structuredData"]);
        Assert.Equal(LoggingNames.Stream(instance.InstanceId), v["stream"]);
        Assert.DoesNotContain(v["token"], credentials.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(((RecordingProgress)instance.Progress).Lines, l => l.Contains(v["token"], StringComparison.Ordinal));

        var info = TestLogging.Unique("Info message");
        var error = TestLogging.Unique("disk full");
        await TestLogging.LoggerAsync(credentials, info, app: "billing", priority: "user.info");
        await TestLogging.LoggerAsync(credentials, error, app: "billing", priority: "local3.err");
        // The example command line of the credentials works as printed.
        await TestLogging.ShellAsync(v["loggerCommand"]);

        var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, "hello from myapp");
        Assert.Equal([info, error, "hello from myapp"], entries.Select(e => e.Message));
        Assert.Equal(["info", "err", "notice"], entries.Select(e => e.Severity));
        Assert.Equal(["billing", "billing", "myapp"], entries.Select(e => e.App));
        Assert.All(entries, e => Assert.Equal(Environment.MachineName, e.Host, ignoreCase: true));
        Assert.All(entries, e => Assert.InRange(e.Timestamp, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1)));
        // Stored without the structured data: the token never reaches the disk of the logs.
        Assert.DoesNotContain(v["token"], TestLogging.StreamText(instance), StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(TestLogging.StreamDir(instance)),
            f => Path.GetFileName(f) == DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + ".log");
    }

    [Fact]
    public async Task ReadLogsAsync_AnotherStreamsAndInvalidTokens_NeverAppear()
    {
        await using var scope = new LoggingScope();
        var mine = await scope.ProvisionedAsync();
        var other = await scope.ProvisionedAsync();
        var myCredentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(mine), Ct);
        var otherCredentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(other), Ct);
        var host = myCredentials.Values["host"];
        var port = myCredentials.Values["port"];
        var token = myCredentials.Values["token"];
        var secret = TestLogging.Unique("secret");

        await TestLogging.LoggerAsync(otherCredentials, "other stream " + secret);
        await TestLogging.LoggerAsync(host, port, "wrong token " + secret, sdId: "portal@32473", sdParam: "token=\"tokNotIssued1234567890123\"");
        await TestLogging.LoggerAsync(host, port, "no structured data " + secret);
        await TestLogging.LoggerAsync(host, port, "other SD-ID " + secret, sdId: "other@32473", sdParam: $"token=\"{token}\"");
        await TestLogging.LoggerAsync(host, port, "token in upper case " + secret, sdId: "portal@32473",
            sdParam: $"token=\"{token.ToUpperInvariant()}\"");
        await TestLogging.LoggerAsync(host, port, $"token {token} in the text " + secret);
        await TestLogging.LoggerAsync(host, port, "other param name " + secret, sdId: "portal@32473", sdParam: $"key=\"{token}\"");
        await TestLogging.LoggerAsync(myCredentials, "mine " + secret);

        var entries = await TestLogging.WaitForEntryAsync(scope.Driver, mine, "mine " + secret);
        await TestLogging.WaitForEntryAsync(scope.Driver, other, "other stream " + secret);
        Assert.Equal(["mine " + secret], entries.Select(e => e.Message));
        Assert.Equal(["other stream " + secret],
            (await scope.Driver.ReadLogsAsync(other, new LogQuery(), Ct)).Select(e => e.Message));
        await TestLogging.WaitForQuarantineAsync("other param name " + secret);
        var quarantine = TestLogging.QuarantineText();
        foreach (var bad in new[] { "wrong token", "no structured data", "other SD-ID", "token in upper case", "in the text" })
        {
            Assert.Contains(bad, quarantine, StringComparison.Ordinal);
        }

        // Searching one's own stream for the other's text finds nothing either.
        Assert.Empty(await scope.Driver.ReadLogsAsync(mine, new LogQuery(Contains: "other stream"), Ct));
    }

    [Fact]
    public async Task ReadLogsAsync_ContainsSinceAndLimit_NewestMatchesOldestFirst()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var today = DateTimeOffset.UtcNow;
        var yesterday = today.AddDays(-1);
        TestLogging.WriteDayFile(instance, DateOnly.FromDateTime(yesterday.UtcDateTime),
            (yesterday, "old Payment failed"), (yesterday.AddSeconds(1), "old ok"));
        TestLogging.WriteDayFile(instance, DateOnly.FromDateTime(today.AddDays(-5).UtcDateTime), (today.AddDays(-5), "ancient PAYMENT"));
        var credentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        await using (var app = await AppConnection.OpenAsync(credentials))
        {
            for (var i = 1; i <= 5; i++)
            {
                await app.SendAsync(credentials.Values["structuredData"], $"payment {i} FAILED with ünïcödé \"quotes\" \\ and ] brackets");
                await app.SendAsync(credentials.Values["structuredData"], $"request {i} ok");
            }
        }

        var all = await TestLogging.WaitForEntryAsync(scope.Driver, instance, "request 5 ok");

        Assert.Equal(13, all.Count);
        Assert.Equal("ancient PAYMENT", all[0].Message);
        Assert.Equal("payment 1 FAILED with ünïcödé \"quotes\" \\ and ] brackets", all[3].Message);
        Assert.Equal("netapp", all[3].App);
        Assert.Equal("apphost", all[3].Host);
        Assert.Equal("info", all[3].Severity);
        var search = await scope.Driver.ReadLogsAsync(instance, new LogQuery(Contains: "PAYMENT"), Ct);
        Assert.Equal(["ancient PAYMENT", "old Payment failed", .. Enumerable.Range(1, 5).Select(i => $"payment {i} FAILED with ünïcödé \"quotes\" \\ and ] brackets")],
            search.Select(e => e.Message));
        var newest = await scope.Driver.ReadLogsAsync(instance, new LogQuery(Contains: "payment", Limit: 2), Ct);
        Assert.Equal(["payment 4", "payment 5"], newest.Select(e => e.Message[..9]));
        var recent = await scope.Driver.ReadLogsAsync(instance, new LogQuery(Since: today.AddMinutes(-5)), Ct);
        Assert.Equal(10, recent.Count);
        var sinceYesterday = await scope.Driver.ReadLogsAsync(instance, new LogQuery(Contains: "old", Since: yesterday.AddMilliseconds(500)), Ct);
        Assert.Equal(["old ok"], sinceYesterday.Select(e => e.Message));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => scope.Driver.ReadLogsAsync(instance, new LogQuery(Limit: 0), Ct));
    }

    [Fact]
    public async Task ReadLogsAsync_NotProvisioned_Throws()
    {
        await using var scope = new LoggingScope();
        var instance = scope.NewInstance();

        await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.ReadLogsAsync(instance, new LogQuery(), Ct));
    }

    [Fact]
    public async Task BindAsync_SecondBindingOfSameInstance_WritesToSameStream()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var first = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var second = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var text = TestLogging.Unique("both");

        await TestLogging.LoggerAsync(first, "first " + text);
        await TestLogging.LoggerAsync(second, "second " + text);

        var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, "second " + text);
        Assert.Equal(["first " + text, "second " + text], entries.Select(e => e.Message));
        Assert.NotEqual(first.Values["token"], second.Values["token"]);
        Assert.Equal(first.Values["stream"], second.Values["stream"]);
    }

    [Fact]
    public async Task BindAsync_CalledTwice_RotatesToken()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var binding = LoggingScope.NewBinding(instance);
        var old = await scope.Driver.BindAsync(binding, Ct);

        var fresh = await scope.Driver.BindAsync(binding, Ct);

        Assert.NotEqual(old.Values["token"], fresh.Values["token"]);
        Assert.DoesNotContain(old.Values["token"], TestLogging.Table().Keys);
        var text = TestLogging.Unique("rotated");
        await TestLogging.LoggerAsync(old, "old " + text);
        await TestLogging.LoggerAsync(fresh, "new " + text);
        var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, "new " + text);
        Assert.Equal(["new " + text], entries.Select(e => e.Message));
        await TestLogging.WaitForQuarantineAsync("old " + text);
    }

    [Fact]
    public async Task BindAsync_InstanceNotProvisioned_ThrowsAndIssuesNoToken()
    {
        await using var scope = new LoggingScope();
        var instance = scope.NewInstance();

        await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct));

        Assert.False(File.Exists(TestLogging.RecordFile(instance)));
        Assert.DoesNotContain(LoggingNames.Stream(instance.InstanceId), TestLogging.Table().Values);
    }

    [Fact]
    public async Task UnbindAsync_OpenConnection_NextMessagesQuarantinedAndOtherBindingKeepsWorking()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var binding = LoggingScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        var kept = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var text = TestLogging.Unique("session");
        await using var app = await AppConnection.OpenAsync(credentials);
        await app.SendAsync(credentials.Values["structuredData"], "before unbind " + text);
        await TestLogging.WaitForEntryAsync(scope.Driver, instance, "before unbind " + text);

        await scope.Driver.UnbindAsync(binding, Ct);

        // The same, still open connection: rsyslog checks the token of every message.
        await app.SendAsync(credentials.Values["structuredData"], "after unbind " + text);
        await TestLogging.LoggerAsync(credentials, "new connection after unbind " + text);
        await TestLogging.LoggerAsync(kept, "kept binding " + text);
        await TestLogging.WaitForQuarantineAsync("new connection after unbind " + text);
        var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, "kept binding " + text);
        Assert.Equal(["before unbind " + text, "kept binding " + text], entries.Select(e => e.Message));
        Assert.Contains("after unbind " + text, TestLogging.QuarantineText(), StringComparison.Ordinal);
        Assert.DoesNotContain(credentials.Values["token"], TestLogging.Table().Keys);
        Assert.DoesNotContain(credentials.Values["token"], File.ReadAllText(TestLogging.RecordFile(instance)), StringComparison.Ordinal);
        // The stream's data belongs to the instance and outlives the binding.
        Assert.Contains("before unbind " + text, TestLogging.StreamText(instance), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnbindAsync_CalledTwiceAndAfterDeprovision_Succeeds()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var binding = LoggingScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);

        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.DoesNotContain(credentials.Values["token"], TestLogging.Table().Keys);
        Assert.False(File.Exists(TestLogging.RecordFile(instance)));
    }

    [Fact]
    public async Task RetireAsync_AfterRotation_BothTokensLandDuringOverlapThenOldOneQuarantined()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var binding = LoggingScope.NewBinding(instance);
        var old = await scope.Driver.BindAsync(binding, Ct);
        var neighbour = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var text = TestLogging.Unique("rotation");
        // An app that keeps its connection open across the rotation.
        await using var app = await AppConnection.OpenAsync(old);
        await app.SendAsync(old.Values["structuredData"], "old before rotation " + text);

        var fresh = await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);

        Assert.NotEqual(old.Values["token"], fresh.Values["token"]);
        Assert.Equal(old.Values.Keys, fresh.Values.Keys);
        Assert.Equal(old.Values["stream"], fresh.Values["stream"]);
        await TestLogging.LoggerAsync(old, "old during overlap " + text);
        await TestLogging.LoggerAsync(fresh, "new during overlap " + text);
        var overlap = await TestLogging.WaitForEntryAsync(scope.Driver, instance, "new during overlap " + text);
        await TestLogging.WaitForEntryAsync(scope.Driver, instance, "old during overlap " + text);
        Assert.Contains(overlap, e => e.Message == "old before rotation " + text);

        await scope.Driver.RetireAsync(binding, 0, Ct);

        // Right away, on the connection opened before and on a new one: the old token is refused.
        await app.SendAsync(old.Values["structuredData"], "old on open connection after retire " + text);
        await TestLogging.LoggerAsync(old, "old after retire " + text);
        await TestLogging.LoggerAsync(fresh, "new after retire " + text);
        await TestLogging.LoggerAsync(neighbour, "neighbour after retire " + text);
        await TestLogging.WaitForQuarantineAsync("old after retire " + text);
        await TestLogging.WaitForQuarantineAsync("old on open connection after retire " + text);
        await TestLogging.WaitForEntryAsync(scope.Driver, instance, "neighbour after retire " + text);
        var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, "new after retire " + text);
        // Each on its own connection, so compare as a set: the old token's messages after retire are not among them.
        Assert.Equal(
            new[] { "old before rotation", "old during overlap", "new during overlap", "new after retire", "neighbour after retire" }
                .Order(StringComparer.Ordinal),
            entries.Select(e => e.Message.Replace(" " + text, "", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        var table = TestLogging.Table();
        Assert.DoesNotContain(old.Values["token"], table.Keys);
        Assert.Equal(LoggingNames.Stream(instance.InstanceId), table[fresh.Values["token"]]);
        var record = File.ReadAllText(TestLogging.RecordFile(instance));
        Assert.DoesNotContain($"\"{LoggingNames.BindingKey(binding.BindingId)}\"", record, StringComparison.Ordinal);
        Assert.Contains($"\"{LoggingNames.BindingKey(binding.BindingId, 1)}\"", record, StringComparison.Ordinal);

        // Idempotent: a retried retirement changes nothing more.
        await scope.Driver.RetireAsync(binding, 0, Ct);
        Assert.Equal(LoggingNames.Stream(instance.InstanceId), TestLogging.Table()[fresh.Values["token"]]);
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task UnbindAsync_SeveralGenerations_RevokesEveryOneAndKeepsOtherBindings()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var binding = LoggingScope.NewBinding(instance);
        var generations = new List<BindingCredentials>();
        // Generation 2 stands for a rotation that crashed before the portal recorded it: unbind finds it by key.
        for (var generation = 0; generation <= 2; generation++)
        {
            generations.Add(await scope.Driver.BindAsync(binding with { Generation = generation }, Ct));
        }

        var neighbour = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);

        await scope.Driver.UnbindAsync(binding with { Generation = 1 }, Ct);

        var text = TestLogging.Unique("unbound");
        for (var generation = 0; generation <= 2; generation++)
        {
            await TestLogging.LoggerAsync(generations[generation], $"generation {generation} " + text);
        }

        await TestLogging.LoggerAsync(neighbour, "neighbour " + text);
        for (var generation = 0; generation <= 2; generation++)
        {
            await TestLogging.WaitForQuarantineAsync($"generation {generation} " + text);
        }

        var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, "neighbour " + text);
        Assert.Equal(["neighbour " + text], entries.Select(e => e.Message));
        var table = TestLogging.Table();
        Assert.All(generations, g => Assert.DoesNotContain(g.Values["token"], table.Keys));
        Assert.DoesNotContain($"lb-{binding.BindingId:N}", File.ReadAllText(TestLogging.RecordFile(instance)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RetireAsync_GenerationNeverBoundOrInstanceGone_Succeeds()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var binding = LoggingScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);

        await scope.Driver.RetireAsync(binding, 5, Ct);

        Assert.Equal(LoggingNames.Stream(instance.InstanceId), TestLogging.Table()[credentials.Values["token"]]);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.RetireAsync(binding, 0, Ct);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => scope.Driver.RetireAsync(binding, -1, Ct));
    }

    [Fact]
    public async Task DeprovisionAsync_WithBindingsAndFiles_RemovesEverythingOfInstanceOnly()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var neighbour = await scope.ProvisionedAsync();
        var first = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var second = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var neighbourCredentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(neighbour), Ct);
        var text = TestLogging.Unique("gone");
        await TestLogging.LoggerAsync(first, "first " + text);
        await TestLogging.LoggerAsync(second, "second " + text);
        await TestLogging.LoggerAsync(neighbourCredentials, "neighbour " + text);
        await TestLogging.WaitForEntryAsync(scope.Driver, instance, "second " + text);
        await TestLogging.WaitForEntryAsync(scope.Driver, neighbour, "neighbour " + text);
        TestLogging.WriteDayFile(instance, new DateOnly(2020, 1, 1), (DateTimeOffset.UtcNow, "by hand"));

        await scope.Driver.DeprovisionAsync(instance, Ct);

        var stream = LoggingNames.Stream(instance.InstanceId);
        Assert.False(Directory.Exists(TestLogging.StreamDir(instance)));
        Assert.False(File.Exists(TestLogging.RecordFile(instance)));
        var table = TestLogging.Table();
        Assert.DoesNotContain(stream, table.Values);
        Assert.DoesNotContain(first.Values["token"], table.Keys);
        Assert.DoesNotContain(second.Values["token"], table.Keys);
        Assert.Empty(Directory.EnumerateFileSystemEntries(TestLogging.ConfigDir, "*" + instance.InstanceId.ToString("N") + "*",
            SearchOption.AllDirectories));
        Assert.Empty(Directory.EnumerateFileSystemEntries(TestLogging.LogDir, "*" + instance.InstanceId.ToString("N") + "*",
            SearchOption.AllDirectories));
        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
        // A message with a deprovisioned token goes to quarantine, and no stream folder comes back.
        await TestLogging.LoggerAsync(first, "after deprovision " + text);
        await TestLogging.WaitForQuarantineAsync("after deprovision " + text);
        Assert.False(Directory.Exists(TestLogging.StreamDir(instance)));
        // The neighbour is untouched.
        Assert.True((await scope.Driver.CheckAsync(neighbour, Ct)).Healthy);
        Assert.Contains(neighbourCredentials.Values["token"], table.Keys);
        await TestLogging.LoggerAsync(neighbourCredentials, "neighbour still " + text);
        await TestLogging.WaitForEntryAsync(scope.Driver, neighbour, "neighbour still " + text);
    }

    [Fact]
    public async Task DeprovisionAsync_CalledTwiceAndNeverProvisioned_Succeeds()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var never = scope.NewInstance();

        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.DeprovisionAsync(never, Ct);

        Assert.False(File.Exists(TestLogging.RecordFile(instance)));
        Assert.False((await scope.Driver.CheckAsync(never, Ct)).Healthy);
    }

    [Fact]
    public async Task BindAsync_AfterCrashBeforeReload_CheckUnhealthyThenRetryPublishesBoth()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var crashed = LoggingScope.NewBinding(instance);
        // What a bind that crashed after writing the record and before rendering the table leaves.
        var token = SecretGenerator.Password();
        var record = TokenTable.DeserializeRecord(File.ReadAllText(TestLogging.RecordFile(instance)))!;
        File.WriteAllText(TestLogging.RecordFile(instance),
            TokenTable.SerializeRecord(record.WithToken(LoggingNames.BindingKey(crashed.BindingId), token)));
        var health = await scope.Driver.CheckAsync(instance, Ct);
        Assert.False(health.Healthy);
        Assert.Contains("not in the lookup table", health.Message, StringComparison.Ordinal);
        var text = TestLogging.Unique("resumed");

        var retried = await scope.Driver.BindAsync(crashed, Ct);

        Assert.NotEqual(token, retried.Values["token"]);
        Assert.DoesNotContain(token, TestLogging.Table().Keys);
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
        await TestLogging.LoggerAsync(retried, text);
        await TestLogging.WaitForEntryAsync(scope.Driver, instance, text);
    }

    [Fact]
    public async Task ProvisionAsync_AfterCrashBeforeReload_PublishesRecordedTokens()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var unpublished = LoggingScope.NewBinding(instance);
        var token = SecretGenerator.Password();
        var record = TokenTable.DeserializeRecord(File.ReadAllText(TestLogging.RecordFile(instance)))!;
        File.WriteAllText(TestLogging.RecordFile(instance),
            TokenTable.SerializeRecord(record.WithToken(LoggingNames.BindingKey(unpublished.BindingId), token)));

        await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(LoggingNames.Stream(instance.InstanceId), TestLogging.Table()[token]);
        Assert.Equal(LoggingNames.Stream(instance.InstanceId), TestLogging.Table()[credentials.Values["token"]]);
        var text = TestLogging.Unique("hand-made token");
        await TestLogging.LoggerAsync(credentials.Values["host"], credentials.Values["port"], text,
            sdId: LoggingNames.SdId, sdParam: $"token=\"{token}\"");
        await TestLogging.WaitForEntryAsync(scope.Driver, instance, text);
    }

    [Fact]
    public async Task DeprovisionAsync_AfterCrashLeftTokensLive_RevokesThemAndDeletesFiles()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var text = TestLogging.Unique("crash");
        await TestLogging.LoggerAsync(credentials, "before " + text);
        await TestLogging.WaitForEntryAsync(scope.Driver, instance, "before " + text);
        // A deprovision that crashed after deleting the record, before the reload: the token is still live.
        File.Delete(TestLogging.RecordFile(instance));
        Assert.Contains(credentials.Values["token"], TestLogging.Table().Keys);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.DoesNotContain(credentials.Values["token"], TestLogging.Table().Keys);
        Assert.False(Directory.Exists(TestLogging.StreamDir(instance)));
        await TestLogging.LoggerAsync(credentials, "after " + text);
        await TestLogging.WaitForQuarantineAsync("after " + text);
        Assert.False(Directory.Exists(TestLogging.StreamDir(instance)));
    }

    [Fact]
    public async Task ApplyRetentionAsync_PlanDays_DeletesOnlyWholeDaysOlderThanRetention()
    {
        var now = new DateTimeOffset(DateTime.UtcNow.Date.AddHours(12), TimeSpan.Zero);
        await using var scope = new DriverScope<LoggingDriver>(LoggingScope.NewDriver(new FixedTime(now)), () => TestLogging.Endpoint);
        var instance = await scope.ProvisionedAsync(new Dictionary<string, int> { ["retentionDays"] = 3 });
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        for (var age = 0; age <= 10; age++)
        {
            TestLogging.WriteDayFile(instance, today.AddDays(-age), (now.AddDays(-age), $"age {age}"));
        }

        File.WriteAllText(Path.Combine(TestLogging.StreamDir(instance), "notes.txt"), "not a day file");

        var deleted = await scope.Driver.ApplyRetentionAsync(instance, Ct);

        Assert.Equal(7, deleted);
        Assert.Equal(["age 3", "age 2", "age 1", "age 0"],
            (await scope.Driver.ReadLogsAsync(instance, new LogQuery(), Ct)).Select(e => e.Message));
        Assert.True(File.Exists(Path.Combine(TestLogging.StreamDir(instance), "notes.txt")));
        Assert.Equal(0, await scope.Driver.ApplyRetentionAsync(instance, Ct));
        Assert.Contains($"Deleted 7 file(s) of stream {LoggingNames.Stream(instance.InstanceId)} older than 3 day(s)",
            ((RecordingProgress)instance.Progress).Lines);
    }

    [Fact]
    public async Task UpdateAsync_ShorterRetention_AppliedAtOnceAndDefaultIsSevenDays()
    {
        var now = new DateTimeOffset(DateTime.UtcNow.Date.AddHours(12), TimeSpan.Zero);
        await using var scope = new DriverScope<LoggingDriver>(LoggingScope.NewDriver(new FixedTime(now)), () => TestLogging.Endpoint);
        var instance = await scope.ProvisionedAsync();
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        for (var age = 0; age <= 9; age++)
        {
            TestLogging.WriteDayFile(instance, today.AddDays(-age), (now.AddDays(-age), $"age {age}"));
        }

        Assert.Equal(2, await scope.Driver.ApplyRetentionAsync(instance, Ct));

        await scope.Driver.UpdateAsync(instance with { Limits = new Dictionary<string, int> { ["retentionDays"] = 1 } }, Ct);

        Assert.Equal(["age 1", "age 0"], (await scope.Driver.ReadLogsAsync(instance, new LogQuery(), Ct)).Select(e => e.Message));
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task UpdateAsync_NotProvisioned_ThrowsInvalidOperation()
    {
        await using var scope = new LoggingScope();

        await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.UpdateAsync(scope.NewInstance(), Ct));
    }

    [Fact]
    public async Task ConcurrentCalls_ManyInstancesAtOnce_EveryTokenPublished()
    {
        await using var scope = new LoggingScope();
        var instances = new List<InstanceContext>();
        for (var i = 0; i < 4; i++)
        {
            instances.Add(scope.NewInstance());
        }

        await Task.WhenAll(instances.Select(i => scope.Driver.ProvisionAsync(i, Ct)));
        var bindings = await Task.WhenAll(instances.SelectMany(i => new[] { i, i })
            .Select(async i => (Instance: i, Credentials: await scope.Driver.BindAsync(LoggingScope.NewBinding(i), Ct))));

        var table = TestLogging.Table();
        Assert.All(bindings, b => Assert.Equal(LoggingNames.Stream(b.Instance.InstanceId), table[b.Credentials.Values["token"]]));
        var text = TestLogging.Unique("parallel");
        foreach (var (instance, credentials) in bindings)
        {
            await TestLogging.LoggerAsync(credentials, $"{text} {credentials.Values["token"][..6]}");
        }

        foreach (var instance in instances)
        {
            var mine = bindings.Where(b => b.Instance == instance).Select(b => $"{text} {b.Credentials.Values["token"][..6]}").ToList();
            var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, mine[1]);
            Assert.Equal(mine, entries.Select(e => e.Message));
        }
    }

    [Fact]
    public async Task TableChanges_WhileAnAppSends_NoMessageLostOrDuplicated()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var other = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var text = TestLogging.Unique("load");
        const int count = 3000;

        var sending = Task.Run(async () =>
        {
            await using var app = await AppConnection.OpenAsync(credentials);
            for (var i = 0; i < count; i++)
            {
                await app.SendAsync(credentials.Values["structuredData"], $"{text} {i}");
                if (i % 100 == 0)
                {
                    await Task.Delay(5, Ct);
                }
            }
        }, Ct);
        // Ten reloads (each a HUP) while the messages flow.
        for (var i = 0; i < 5; i++)
        {
            var binding = LoggingScope.NewBinding(other);
            await scope.Driver.BindAsync(binding, Ct);
            await scope.Driver.UnbindAsync(binding, Ct);
        }

        await sending;
        var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, $"{text} {count - 1}", new LogQuery(Limit: 10_000));
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"{text} {i}"), entries.Select(e => e.Message));
    }

    [Fact]
    public async Task CheckAsync_ProvisionedOrNot_ReportsHealth()
    {
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);

        var healthy = await scope.Driver.CheckAsync(instance, Ct);
        var missing = await scope.Driver.CheckAsync(scope.NewInstance(), Ct);
        var wrongSecret = await scope.Driver.CheckAsync(instance with { Backend = instance.Backend with { AdminPassword = "wrong" } }, Ct);

        Assert.True(healthy.Healthy, healthy.Message);
        Assert.Contains("1 token(s)", healthy.Message, StringComparison.Ordinal);
        Assert.False(missing.Healthy);
        Assert.Contains("not provisioned", missing.Message, StringComparison.Ordinal);
        Assert.False(wrongSecret.Healthy);
    }

    [Fact]
    public async Task TestBackendAsync_RightAndWrongEndpoints_HealthyOnlyForTheRightOne()
    {
        var driver = LoggingScope.NewDriver();
        var backend = TestLogging.Endpoint;
        var withoutConfigDir = backend with
        {
            Settings = backend.Settings.Where(s => s.Key != "configDir").ToDictionary(s => s.Key, s => s.Value),
        };
        var relativeLogDir = backend with
        {
            Settings = new Dictionary<string, string>(backend.Settings) { ["logDir"] = "logs" },
        };

        var ok = await driver.TestBackendAsync(backend, Ct);
        var wrongPassword = await driver.TestBackendAsync(backend with { AdminPassword = "not-the-secret" }, Ct);
        var wrongPort = await driver.TestBackendAsync(backend with { Port = 1 }, Ct);
        var noConfigDir = await driver.TestBackendAsync(withoutConfigDir, Ct);
        var relative = await driver.TestBackendAsync(relativeLogDir, Ct);

        Assert.True(ok.Healthy, ok.Message);
        Assert.StartsWith("rsyslogd (pid ", ok.Message, StringComparison.Ordinal);
        Assert.False(wrongPassword.Healthy);
        Assert.Contains("admin password", wrongPassword.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(backend.AdminPassword, wrongPassword.Message, StringComparison.Ordinal);
        Assert.False(wrongPort.Healthy);
        Assert.False(noConfigDir.Healthy);
        Assert.Contains("configDir", noConfigDir.Message, StringComparison.Ordinal);
        Assert.False(relative.Healthy);
        Assert.Contains("absolute", relative.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => driver.ProvisionAsync(
            new InstanceContext(Guid.NewGuid(), backend with { AdminPassword = "not-the-secret" },
                new Dictionary<string, int>(), new RecordingProgress()), Ct));
    }

    [Fact]
    public async Task CollectorStopped_CallsFailClearlyAndTokensSurviveRestart()
    {
        await using var collector = TestLogging.UsePrivateCollector();
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var revoked = LoggingScope.NewBinding(instance);
        var revokedCredentials = await scope.Driver.BindAsync(revoked, Ct);
        await scope.Driver.UnbindAsync(revoked, Ct);
        var revokedWhileDown = LoggingScope.NewBinding(instance);
        var revokedWhileDownCredentials = await scope.Driver.BindAsync(revokedWhileDown, Ct);
        var pending = LoggingScope.NewBinding(instance);

        await collector.StopAsync();
        try
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.BindAsync(pending, Ct));
            Assert.Contains("not running", e.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.UnbindAsync(revokedWhileDown, Ct));
            // The table on disk has the revocation already, so the collector loads it when it starts.
            Assert.DoesNotContain(revokedWhileDownCredentials.Values["token"], TestLogging.Table().Keys);
            var health = await scope.Driver.CheckAsync(instance, Ct);
            Assert.False(health.Healthy);
            Assert.Contains("collector is not running", health.Message, StringComparison.Ordinal);
            Assert.False((await scope.Driver.TestBackendAsync(instance.Backend, Ct)).Healthy);
        }
        finally
        {
            // Also when an assertion failed, so the scope can deprovision what the test made.
            await collector.StartAsync();
        }

        var text = TestLogging.Unique("restart");
        await TestLogging.LoggerAsync(revokedWhileDownCredentials, "revoked while down " + text);
        await TestLogging.LoggerAsync(revokedCredentials, "revoked " + text);
        // The job's retry finishes the bind; the tokens written before the stop are in force.
        var pendingCredentials = await scope.Driver.BindAsync(pending, Ct);
        await TestLogging.LoggerAsync(credentials, "kept " + text);
        await TestLogging.LoggerAsync(pendingCredentials, "pending " + text);
        await TestLogging.WaitForQuarantineAsync("revoked while down " + text);
        await TestLogging.WaitForQuarantineAsync("revoked " + text);
        var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, "pending " + text);
        Assert.Equal(["kept " + text, "pending " + text], entries.Select(x => x.Message));
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task UnbindAsync_CollectorPaused_ReturnsOnlyOnceTheNewTableIsLive()
    {
        await using var collector = TestLogging.UsePrivateCollector();
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var binding = LoggingScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        Task unbind;

        // A stopped rsyslogd neither handles the HUP nor routes the probe, though the kernel still accepts them.
        await TestLogging.SignalCollectorAsync("STOP");
        try
        {
            unbind = scope.Driver.UnbindAsync(binding, Ct);
            await Task.Delay(TimeSpan.FromSeconds(1), Ct);
            Assert.False(unbind.IsCompleted);
            Assert.DoesNotContain(credentials.Values["token"], TestLogging.Table().Keys);
        }
        finally
        {
            await TestLogging.SignalCollectorAsync("CONT");
        }

        // The driver gives up after its own reload timeout; wait a little longer than that, so a slow machine is not a failure.
        await unbind.WaitAsync(RsyslogCollector.ReloadTimeout + TimeSpan.FromSeconds(5), Ct);
        var text = TestLogging.Unique("right after unbind");
        await TestLogging.LoggerAsync(credentials, text);
        await TestLogging.WaitForQuarantineAsync(text);
        Assert.Empty(await scope.Driver.ReadLogsAsync(instance, new LogQuery(), Ct));
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
