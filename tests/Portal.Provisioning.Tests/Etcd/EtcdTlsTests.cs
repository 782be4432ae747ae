using System.Security.Cryptography.X509Certificates;
using dotnet_etcd;
using Etcdserverpb;
using Grpc.Core;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.Etcd;

namespace Portal.Provisioning.Tests.Etcd;

/// <summary>
/// TLS with client certificates and credential rotation against the real etcd of <see cref="TestEtcd"/>, which
/// ops/backends/etcd starts with <c>--client-cert-auth</c>; checked with the dotnet-etcd gRPC client as an app uses it.
/// </summary>
[Collection(TestEtcd.Collection)]
public sealed class EtcdTlsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BindAsync_TlsBackend_CredentialsCarryCaAndCertificateOfTheUser()
    {
        Assert.True(TestEtcd.Endpoint.Tls, "ops/backends/etcd must run with PORTAL_CA_DIR (TLS) for these tests.");
        await using var scope = new EtcdScope();
        var instance = await scope.ProvisionedAsync();
        var binding = EtcdScope.NewBinding(instance, clientCertificate: true) with { CertificateValidity = TimeSpan.FromHours(5) };

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        var v = credentials.Values;
        Assert.StartsWith("https://", v["endpoints"], StringComparison.Ordinal);
        Assert.Equal(TestBackends.Ca.CertificatePem, v["ca.crt"]);
        Assert.Equal(v["username"], IssuedCertificate.CommonNameOf(v["tls.crt"]));
        var notAfter = IssuedCertificate.NotAfterOf(v["tls.crt"]);
        Assert.InRange(notAfter, DateTimeOffset.UtcNow.AddHours(4.9), DateTimeOffset.UtcNow.AddHours(5.1));
        using var certificate = TestEtcd.ClientCertificate(credentials);
        Assert.True(TestBackends.Ca.Verifies(certificate));
        Assert.True(((IServiceDriver)scope.Driver).SupportsClientCertificates);
        Assert.DoesNotContain(((RecordingProgress)instance.Progress).Lines,
            l => l.Contains("PRIVATE KEY", StringComparison.Ordinal) || l.Contains(v["password"], StringComparison.Ordinal));
    }

    [Fact]
    public async Task BindAsync_CertificateAndPassword_ReadAndWriteWithServerVerification()
    {
        await using var scope = new EtcdScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);
        var prefix = credentials.Values["prefix"];

        using var app = TestEtcd.AppClient(credentials);
        await app.PutAsync(prefix + "k", "v", cancellationToken: Ct);

        Assert.Equal("v", await app.GetValAsync(prefix + "k", cancellationToken: Ct));
        await AssertDeniedAsync(() => app.PutAsync("/outside", "x", cancellationToken: Ct));
    }

    [Fact]
    public async Task BindAsync_CertificateAlone_ActsAsItsUserInsideThePrefixOnly()
    {
        await using var scope = new EtcdScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance, clientCertificate: true), Ct);
        var prefix = credentials.Values["prefix"];

        using var app = CertificateOnly(credentials);
        await app.PutAsync(prefix + "by-cert", "1", cancellationToken: Ct);

        Assert.Equal("1", await app.GetValAsync(prefix + "by-cert", cancellationToken: Ct));
        await AssertDeniedAsync(() => app.PutAsync("/outside", "x", cancellationToken: Ct));
        await AssertDeniedAsync(() => app.GetRangeAsync(EtcdNames.KeyRoot, cancellationToken: Ct));
        await AssertDeniedAsync(() => app.UserListAsync(new AuthUserListRequest(), cancellationToken: Ct));
    }

    [Fact]
    public async Task Connect_WithoutClientCertificate_HandshakeFailsEvenWithThePassword()
    {
        await using var scope = new EtcdScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);

        using var bare = TestEtcd.CertificateClient(credentials.Values["endpoints"], null, credentials.Values["ca.crt"]);
        using var control = TestEtcd.CertificateClient(
            credentials.Values["endpoints"], TestEtcd.ClientCertificate(credentials), credentials.Values["ca.crt"]);
        var signIn = new AuthenticateRequest { Name = credentials.Values["username"], Password = credentials.Values["password"] };

        await AssertRefusedByServerAsync(() => bare.AuthenticateAsync(signIn, cancellationToken: Ct));
        Assert.NotEmpty((await control.AuthenticateAsync(signIn, cancellationToken: Ct)).Token);
    }

    [Fact]
    public async Task Connect_CertificateOfForeignCa_IsRefused()
    {
        await using var scope = new EtcdScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);
        using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));
        // The same user name as the binding's, so only the issuer differs.
        using var forged = foreign.IssueClient(credentials.Values["username"], TimeSpan.FromHours(1)).ToX509();

        using var app = TestEtcd.CertificateClient(credentials.Values["endpoints"], forged, credentials.Values["ca.crt"]);
        using var control = TestEtcd.CertificateClient(
            credentials.Values["endpoints"], TestEtcd.ClientCertificate(credentials), credentials.Values["ca.crt"]);

        await AssertRefusedByServerAsync(() => app.GetAsync(credentials.Values["prefix"] + "k", cancellationToken: Ct));
        Assert.Equal(0L, (await control.GetAsync(credentials.Values["prefix"] + "k", cancellationToken: Ct)).Count);
    }

    [Fact]
    public async Task Connect_ClientTrustingAnotherCa_FailsServerVerification()
    {
        await using var scope = new EtcdScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);
        using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));

        using var app = TestEtcd.CertificateClient(
            credentials.Values["endpoints"], TestEtcd.ClientCertificate(credentials), foreign.CertificatePem);

        await AssertServerCertificateRejectedAsync(() => app.GetAsync(credentials.Values["prefix"] + "k", cancellationToken: Ct));
    }

    [Fact]
    public async Task BindAsync_CertificateOfOtherInstancesBinding_IsDeniedOnThisPrefix()
    {
        await using var scope = new EtcdScope();
        var mine = await scope.ProvisionedAsync();
        var other = await scope.ProvisionedAsync();
        var minePrefix = EtcdNames.KeyPrefix(mine.InstanceId);
        await scope.Driver.BindAsync(EtcdScope.NewBinding(mine, clientCertificate: true), Ct);
        var theirs = await scope.Driver.BindAsync(EtcdScope.NewBinding(other, clientCertificate: true), Ct);

        using var intruder = CertificateOnly(theirs);

        await AssertDeniedAsync(() => intruder.PutAsync(minePrefix + "x", "1", cancellationToken: Ct));
        await AssertDeniedAsync(() => intruder.GetRangeAsync(minePrefix, cancellationToken: Ct));
        await intruder.PutAsync(theirs.Values["prefix"] + "own", "1", cancellationToken: Ct);
    }

    [Fact]
    public async Task RetireAsync_AfterRotation_OldGenerationRefusedByPasswordTokenAndCertificate_NewOneWorks()
    {
        await using var scope = new EtcdScope();
        var instance = await scope.ProvisionedAsync();
        var gen0 = EtcdScope.NewBinding(instance, clientCertificate: true);
        var gen1 = gen0 with { Generation = 1 };
        var old = await scope.Driver.BindAsync(gen0, Ct);
        var fresh = await scope.Driver.BindAsync(gen1, Ct);
        var key = old.Values["prefix"] + "k";

        // The overlap: both generations work at once, by password and by certificate alone.
        Assert.Equal(EtcdNames.BindingUser(instance.InstanceId, gen0.BindingId) + "_g1", fresh.Values["username"]);
        Assert.Equal(fresh.Values["username"], IssuedCertificate.CommonNameOf(fresh.Values["tls.crt"]));
        using var oldApp = TestEtcd.AppClient(old);
        using var freshApp = TestEtcd.AppClient(fresh);
        using var oldCert = CertificateOnly(old);
        using var freshCert = CertificateOnly(fresh);
        await oldApp.PutAsync(key, "gen0", cancellationToken: Ct);
        Assert.Equal("gen0", await freshApp.GetValAsync(key, cancellationToken: Ct));
        Assert.Equal("gen0", await oldCert.GetValAsync(key, cancellationToken: Ct));
        Assert.Equal("gen0", await freshCert.GetValAsync(key, cancellationToken: Ct));

        await scope.Driver.RetireAsync(gen1, 0, Ct);
        await scope.Driver.RetireAsync(gen1, 0, Ct);

        // The open client's token died with the user; a new sign-in fails; the certificate maps to no user.
        var stale = await Assert.ThrowsAsync<RpcException>(() => oldApp.GetAsync(key, cancellationToken: Ct));
        Assert.Equal(StatusCode.Unauthenticated, stale.StatusCode);
        using (var again = TestEtcd.AppClient(old))
        {
            var signIn = await Assert.ThrowsAsync<RpcException>(() => again.GetAsync(key, cancellationToken: Ct));
            Assert.Contains("authentication failed", signIn.Status.Detail, StringComparison.Ordinal);
        }

        await AssertDeniedAsync(() => oldCert.GetAsync(key, cancellationToken: Ct));
        Assert.Equal("gen0", await freshApp.GetValAsync(key, cancellationToken: Ct));
        await freshCert.PutAsync(key, "gen1", cancellationToken: Ct);
        Assert.Equal([fresh.Values["username"]], await UsersOfAsync(instance));
    }

    [Fact]
    public async Task UnbindAsync_EveryGeneration_PasswordsAndCertificatesRefused()
    {
        await using var scope = new EtcdScope();
        var instance = await scope.ProvisionedAsync();
        var gen0 = EtcdScope.NewBinding(instance, clientCertificate: true);
        var old = await scope.Driver.BindAsync(gen0, Ct);
        var fresh = await scope.Driver.BindAsync(gen0 with { Generation = 1 }, Ct);
        var keep = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance, clientCertificate: true), Ct);
        var key = old.Values["prefix"] + "k";
        using var freshCert = CertificateOnly(fresh);
        await freshCert.PutAsync(key, "v", cancellationToken: Ct);

        await scope.Driver.UnbindAsync(gen0 with { Generation = 1 }, Ct);

        foreach (var credentials in new[] { old, fresh })
        {
            using var app = TestEtcd.AppClient(credentials);
            var signIn = await Assert.ThrowsAsync<RpcException>(() => app.GetAsync(key, cancellationToken: Ct));
            Assert.Contains("authentication failed", signIn.Status.Detail, StringComparison.Ordinal);
            using var byCertificate = CertificateOnly(credentials);
            await AssertDeniedAsync(() => byCertificate.GetAsync(key, cancellationToken: Ct));
        }

        await AssertDeniedAsync(() => freshCert.GetAsync(key, cancellationToken: Ct));
        // Another binding of the same instance keeps working.
        using var kept = CertificateOnly(keep);
        Assert.Equal("v", await kept.GetValAsync(key, cancellationToken: Ct));
        Assert.Equal([keep.Values["username"]], await UsersOfAsync(instance));
    }

    [Fact]
    public async Task UnbindAsync_LeftoverGenerationUsersOfACrash_AreDeletedToo()
    {
        await using var scope = new EtcdScope();
        var instance = await scope.ProvisionedAsync();
        var binding = EtcdScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        using (var admin = TestEtcd.AdminClient())
        {
            // A rotation that crashed after "add user", and a generation whose bind was never recorded.
            foreach (var generation in new[] { 3, 12 })
            {
                await admin.UserAddAsync(new AuthUserAddRequest
                {
                    Name = EtcdNames.BindingUser(instance.InstanceId, binding.BindingId, generation),
                    Password = SecretGenerator.Password(),
                }, cancellationToken: Ct);
            }
        }

        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.Empty(await UsersOfAsync(instance));
    }

    [Fact]
    public async Task DeprovisionAsync_RotatedBinding_RemovesEveryGeneration()
    {
        await using var scope = new EtcdScope();
        var instance = await scope.ProvisionedAsync();
        var binding = EtcdScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Empty(await UsersOfAsync(instance));
    }

    [Fact]
    public async Task BindAsync_ClientCertificateOnPlainBackend_ThrowsBeforeCreatingAnything()
    {
        await using var scope = new EtcdScope();
        var plain = TestEtcd.Endpoint with
        {
            Settings = TestEtcd.Endpoint.Settings.Where(s => s.Key != "tls").ToDictionary(s => s.Key, s => s.Value),
        };
        var instance = scope.NewInstance(backend: plain);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(
            () => scope.Driver.BindAsync(EtcdScope.NewBinding(instance, clientCertificate: true), Ct));

        Assert.Contains("does not serve TLS", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_TlsBackend_ReportsClientCertificates()
    {
        var report = await TestEtcd.NewDriver().TestBackendAsync(TestEtcd.Endpoint, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.Contains("TLS with client certificates", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_TlsBackendWithoutCa_ReportsTheMissingCa()
    {
        var report = await TestEtcd.NewDriver().TestBackendAsync(TestEtcd.Endpoint with { PlatformCa = null }, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("platform CA", report.Message, StringComparison.Ordinal);
    }

    /// <summary>A client with the binding's certificate and ca.crt but no password: etcd takes the CN as the user.</summary>
    private static EtcdClient CertificateOnly(BindingCredentials credentials) =>
        TestEtcd.CertificateClient(credentials.Values["endpoints"], TestEtcd.ClientCertificate(credentials), credentials.Values["ca.crt"]);

    private static async Task AssertDeniedAsync(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
    }

    /// <summary>
    /// etcd drops the connection while it is being set up, so no call reaches it. With TLS 1.3 the server checks the
    /// client certificate after the client's side of the handshake, so the client sees the HTTP/2 preface fail, the
    /// server's reset, or the stream end early — Unavailable or Internal, depending on timing, but always a transport
    /// error, never an answer from etcd.
    /// </summary>
    private static async Task AssertRefusedByServerAsync(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        var chain = string.Join(" <- ", Chain(e));
        Assert.True(e.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{e.StatusCode}: {chain}");
        var transport = false;
        for (Exception? inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            transport |= inner is HttpRequestException or IOException;
        }

        Assert.True(transport, $"expected a transport error, got {e.StatusCode}: {chain}");
    }

    /// <summary>The client's own verification refuses the server's certificate.</summary>
    private static async Task AssertServerCertificateRejectedAsync(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Contains(Chain(e), m => m.Contains("remote certificate was rejected", StringComparison.Ordinal));
    }

    private static List<string> Chain(RpcException e)
    {
        var chain = new List<string>();
        for (Exception? inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            chain.Add(inner.Message);
        }

        return chain;
    }

    private static async Task<IReadOnlyList<string>> UsersOfAsync(InstanceContext instance)
    {
        using var admin = TestEtcd.AdminClient();
        var users = await admin.UserListAsync(new AuthUserListRequest(), cancellationToken: Ct);
        return users.Users.Where(u => u.Contains(instance.InstanceId.ToString("N"), StringComparison.Ordinal)).ToList();
    }
}
