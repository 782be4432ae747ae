using System.Globalization;
using System.Runtime.Versioning;
using System.Security.Authentication;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.Logging;

namespace Portal.Provisioning.Tests.Logging;

/// <summary>
/// Sending over the collector's TLS port (<c>ops/backends/logging</c> started with a platform CA): a .NET
/// <see cref="System.Net.Security.SslStream"/> client that trusts only the binding's <c>ca.crt</c>, and the binding's
/// <c>tlsCommand</c> (<c>openssl s_client</c>) as printed.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class LoggingTlsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BindAsync_TlsCollector_CredentialsAddCaAndTlsPortAndTlsClientMessagesLand()
    {
        var backend = TestLogging.TlsEndpoint;
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();

        var credentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);

        var v = credentials.Values;
        Assert.Equal(TestBackends.Ca.CertificatePem, v["ca.crt"]);
        Assert.Equal(backend.Setting("tlsPort"), v["tlsPort"]);
        Assert.NotEqual(v["port"], v["tlsPort"]);
        // The plain keys are unchanged: port is still the plain listener.
        Assert.Equal(backend.Port.ToString(CultureInfo.InvariantCulture), v["port"]);
        Assert.Equal("tcp", v["protocol"]);

        var text = TestLogging.Unique("over tls");
        const int count = 500;
        await using (var app = await AppTlsConnection.OpenAsync(credentials))
        {
            for (var i = 0; i < count; i++)
            {
                await app.SendAsync(v["structuredData"], $"{text} #{i.ToString(CultureInfo.InvariantCulture)}");
            }
        }

        // All of them, the last ones too: the client closed gracefully.
        var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, $"{text} #{(count - 1).ToString(CultureInfo.InvariantCulture)}",
            new LogQuery(Limit: count + 10));
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"{text} #{i.ToString(CultureInfo.InvariantCulture)}"),
            entries.Select(e => e.Message));
        Assert.All(entries, e => Assert.Equal("tlsapp", e.App));
        Assert.DoesNotContain(v["token"], TestLogging.StreamText(instance), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TlsCommand_RunAsPrinted_MessageLandsAndForeignCaFileFails()
    {
        _ = TestLogging.TlsEndpoint;
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        var dir = Directory.CreateTempSubdirectory("portal-logging-tls-");
        try
        {
            // Where the app keeps its binding: the binding's ca.crt as a file of that name.
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "ca.crt"), credentials.Values["ca.crt"], Ct);

            await TestLogging.ShellAsync(credentials.Values["tlsCommand"], dir.FullName);

            var entries = await TestLogging.WaitForEntryAsync(scope.Driver, instance, "hello from myapp over TLS");
            var entry = Assert.Single(entries);
            Assert.Equal("myapp", entry.App);
            Assert.Equal(Environment.MachineName, entry.Host, ignoreCase: true);

            // The same command with another CA's certificate refuses the collector (non-zero exit).
            using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "ca.crt"), foreign.CertificatePem, Ct);
            var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestLogging.ShellAsync(
                credentials.Values["tlsCommand"].Replace("over TLS", "to a foreign CA", StringComparison.Ordinal), dir.FullName));
            Assert.Contains("certificate verify failed", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }

        Assert.DoesNotContain("to a foreign CA", TestLogging.QuarantineText(), StringComparison.Ordinal);
        Assert.DoesNotContain(await scope.Driver.ReadLogsAsync(instance, new LogQuery(), Ct),
            e => e.Message.Contains("to a foreign CA", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TlsClient_TrustingForeignCa_HandshakeFailsAndNothingIsSent()
    {
        _ = TestLogging.TlsEndpoint;
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(LoggingScope.NewBinding(instance), Ct);
        using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));

        await Assert.ThrowsAsync<AuthenticationException>(() => AppTlsConnection.OpenAsync(credentials, foreign.CertificatePem));

        // The right CA still works, so the refusal above was the trust decision, not a dead port.
        var text = TestLogging.Unique("right ca");
        await using (var app = await AppTlsConnection.OpenAsync(credentials))
        {
            await app.SendAsync(credentials.Values["structuredData"], text);
        }

        await TestLogging.WaitForEntryAsync(scope.Driver, instance, text);
    }

    [Fact]
    public async Task RetireAndUnbind_OverTls_OldTokenQuarantinedOnOpenAndNewConnections()
    {
        _ = TestLogging.TlsEndpoint;
        await using var scope = new LoggingScope();
        var instance = await scope.ProvisionedAsync();
        var binding = LoggingScope.NewBinding(instance);
        var old = await scope.Driver.BindAsync(binding, Ct);
        var fresh = await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);
        var text = TestLogging.Unique("tls rotation");
        var oldApp = await AppTlsConnection.OpenAsync(old);
        var freshApp = await AppTlsConnection.OpenAsync(fresh);
        try
        {
            await oldApp.SendAsync(old.Values["structuredData"], "old during overlap " + text);
            await freshApp.SendAsync(fresh.Values["structuredData"], "new during overlap " + text);
            await TestLogging.WaitForEntryAsync(scope.Driver, instance, "old during overlap " + text);
            await TestLogging.WaitForEntryAsync(scope.Driver, instance, "new during overlap " + text);

            await scope.Driver.RetireAsync(binding, 0, Ct);

            await oldApp.SendAsync(old.Values["structuredData"], "old on open connection after retire " + text);
            await freshApp.SendAsync(fresh.Values["structuredData"], "new after retire " + text);
            await using (var again = await AppTlsConnection.OpenAsync(old))
            {
                await again.SendAsync(old.Values["structuredData"], "old on new connection after retire " + text);
            }

            await TestLogging.WaitForQuarantineAsync("old on open connection after retire " + text);
            await TestLogging.WaitForQuarantineAsync("old on new connection after retire " + text);
            await TestLogging.WaitForEntryAsync(scope.Driver, instance, "new after retire " + text);

            await scope.Driver.UnbindAsync(binding, Ct);

            await freshApp.SendAsync(fresh.Values["structuredData"], "new on open connection after unbind " + text);
            await using (var again = await AppTlsConnection.OpenAsync(fresh))
            {
                await again.SendAsync(fresh.Values["structuredData"], "new on new connection after unbind " + text);
            }

            await TestLogging.WaitForQuarantineAsync("new on open connection after unbind " + text);
            await TestLogging.WaitForQuarantineAsync("new on new connection after unbind " + text);
        }
        finally
        {
            await oldApp.DisposeAsync();
            await freshApp.DisposeAsync();
        }

        var entries = await scope.Driver.ReadLogsAsync(instance, new LogQuery(), Ct);
        Assert.Equal(
            new[] { "new after retire", "new during overlap", "old during overlap" },
            entries.Select(e => e.Message.Replace(" " + text, "", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(old.Values["token"], TestLogging.Table().Keys);
        Assert.DoesNotContain(fresh.Values["token"], TestLogging.Table().Keys);
    }

    [Fact]
    public async Task TestBackendAsync_TlsCollector_ChecksTheTlsListenerWithThePlatformCa()
    {
        var driver = LoggingScope.NewDriver();
        var backend = TestLogging.TlsEndpoint;
        using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));

        var ok = await driver.TestBackendAsync(backend, Ct);
        var noCa = await driver.TestBackendAsync(backend with { PlatformCa = null }, Ct);
        var foreignCa = await driver.TestBackendAsync(backend with { PlatformCa = foreign }, Ct);
        var noTlsPort = await driver.TestBackendAsync(backend with
        {
            Settings = backend.Settings.Where(s => s.Key != "tlsPort").ToDictionary(s => s.Key, s => s.Value),
        }, Ct);

        Assert.True(ok.Healthy, ok.Message);
        Assert.Contains($"TLS on {backend.Host}:{backend.Setting("tlsPort")}", ok.Message, StringComparison.Ordinal);
        Assert.False(noCa.Healthy);
        Assert.Contains("platform CA", noCa.Message, StringComparison.Ordinal);
        Assert.False(foreignCa.Healthy);
        Assert.False(noTlsPort.Healthy);
        Assert.Contains("tlsPort", noTlsPort.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Credentials_PlainOrTlsBackend_TlsKeysOnlyWithTls()
    {
        using var ca = CertificateAuthority.CreateRoot("Unit test CA", TimeSpan.FromDays(1));
        var plain = new BackendEndpoint("127.0.0.1", 514, "portal", "secret");
        var tls = plain with
        {
            Settings = new Dictionary<string, string> { ["tls"] = "true", ["tlsPort"] = "6514" },
            PlatformCa = ca,
        };

        var plainValues = LoggingDriver.Credentials(plain, "ls-x", "tok123").Values;
        var tlsValues = LoggingDriver.Credentials(tls, "ls-x", "tok123").Values;

        Assert.DoesNotContain("ca.crt", plainValues.Keys);
        Assert.DoesNotContain("tlsPort", plainValues.Keys);
        Assert.Equal(plainValues, tlsValues.Where(kv => plainValues.ContainsKey(kv.Key)));
        Assert.Equal("6514", tlsValues["tlsPort"]);
        Assert.Equal(ca.CertificatePem, tlsValues["ca.crt"]);
        Assert.Contains("-verify_ip 127.0.0.1 -connect 127.0.0.1:6514", tlsValues["tlsCommand"], StringComparison.Ordinal);
        Assert.Contains("-verify_hostname logs.example.com -connect logs.example.com:6514",
            LoggingDriver.Credentials(tls with { Host = "logs.example.com" }, "ls-x", "tok123").Values["tlsCommand"],
            StringComparison.Ordinal);
        Assert.Contains("-connect [::1]:6514",
            LoggingDriver.Credentials(tls with { Host = "::1" }, "ls-x", "tok123").Values["tlsCommand"], StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => LoggingDriver.Credentials(tls with { PlatformCa = null }, "ls-x", "tok123"));
        Assert.Throws<InvalidOperationException>(() => LoggingDriver.Credentials(
            tls with { Settings = new Dictionary<string, string> { ["tls"] = "true" } }, "ls-x", "tok123"));
    }
}
