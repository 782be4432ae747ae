using System.Security.Authentication;
using System.Text;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.RabbitMq;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Portal.Provisioning.Tests.RabbitMq;

/// <summary>
/// TLS, credential rotation and client certificates against the real node of <see cref="TestRabbitMq"/>, which
/// serves AMQPS only (ops/backends/rabbitmq with PORTAL_CA_DIR), with RabbitMQ.Client as the app.
/// </summary>
public sealed class RabbitMqDriverTlsTests
{
    private const int NotAllowed = 530;
    private const int ConnectionForced = 320;
    private const int AccessRefused = 403;

    private static readonly TimeSpan ShutdownWait = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BindAsync_TlsBackend_AppTrustingOnlyCaCrtPublishesAndConsumes()
    {
        await using var scope = new RabbitMqScope();
        var instance = await scope.ProvisionedAsync();

        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);

        Assert.StartsWith("amqps://", credentials.Values["uri"], StringComparison.Ordinal);
        Assert.DoesNotContain("tls.key", credentials.Values.Keys);
        await using var conn = await TestRabbitMq.ConnectAsync(credentials);
        await using var channel = await conn.CreateChannelAsync(cancellationToken: Ct);
        await channel.QueueDeclareAsync("tls", durable: false, exclusive: false, autoDelete: false, cancellationToken: Ct);
        await channel.BasicPublishAsync("", "tls", Encoding.UTF8.GetBytes("over tls"), Ct);
        var message = await channel.BasicGetAsync("tls", autoAck: true, Ct);
        Assert.NotNull(message);
        Assert.Equal("over tls", Encoding.UTF8.GetString(message.Body.Span));
    }

    [Fact]
    public async Task BindAsync_AppTrustingAnotherCa_HandshakeFails()
    {
        await using var scope = new RabbitMqScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));

        var e = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectAsync(credentials, foreign.ServerValidator));

        Assert.True(HasInner<AuthenticationException>(e), e.ToString());
    }

    [Fact]
    public async Task RetireAsync_AfterRotation_OldGenerationClosedAndRefused_NewKeepsWorking()
    {
        await using var scope = new RabbitMqScope();
        var instance = await scope.ProvisionedAsync();
        var gen0 = RabbitMqScope.NewBinding(instance);
        var gen1 = gen0 with { Generation = 1 };
        var old = await scope.Driver.BindAsync(gen0, Ct);
        var fresh = await scope.Driver.BindAsync(gen1, Ct);
        Assert.Equal(RabbitMqNames.BindingUser(instance.InstanceId, gen0.BindingId) + "_g1", fresh.Values["username"]);
        // The overlap: both generations work at once.
        await using var openOld = await TestRabbitMq.ConnectAsync(old);
        await using (var openFresh = await TestRabbitMq.ConnectAsync(fresh))
        {
            Assert.True(openOld.IsOpen && openFresh.IsOpen);
        }

        var closed = TestRabbitMq.ShutdownOf(openOld);

        await scope.Driver.RetireAsync(gen1, 0, Ct);
        await scope.Driver.RetireAsync(gen1, 0, Ct);

        Assert.Equal(ConnectionForced, (await closed.WaitAsync(ShutdownWait, Ct)).ReplyCode);
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectAsync(old));
        Assert.Equal(AccessRefused, TestRabbitMq.ReplyCode(refused));
        await using (var stillWorks = await TestRabbitMq.ConnectAsync(fresh))
        {
            Assert.True(stillWorks.IsOpen);
        }

        await scope.Driver.UnbindAsync(gen1, Ct);

        var gone = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectAsync(fresh));
        Assert.Equal(AccessRefused, TestRabbitMq.ReplyCode(gone));
        Assert.Empty(await TestRabbitMq.UsersContainingAsync(gen0.BindingId.ToString("N")));
    }

    [Fact]
    public async Task UnbindAsync_LeftoverGenerations_AllRemoved_OtherBindingKept()
    {
        await using var scope = new RabbitMqScope();
        var instance = await scope.ProvisionedAsync();
        var binding = RabbitMqScope.NewBinding(instance);
        var other = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        var first = await scope.Driver.BindAsync(binding, Ct);
        // A rotation that crashed before retiring, then another: three generations exist.
        await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);
        var latest = await scope.Driver.BindAsync(binding with { Generation = 2 }, Ct);
        Assert.Equal(3, (await TestRabbitMq.UsersContainingAsync(binding.BindingId.ToString("N"))).Count);

        // The context names generation 0 only; the users are found by name.
        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.Empty(await TestRabbitMq.UsersContainingAsync(binding.BindingId.ToString("N")));
        foreach (var refused in new[] { first, latest })
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectAsync(refused));
            Assert.Equal(AccessRefused, TestRabbitMq.ReplyCode(e));
        }

        await using var conn = await TestRabbitMq.ConnectAsync(other);
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task BindAsync_ClientCertificate_ExternalLoginReachesVhost_PasswordWorksBesides()
    {
        await using var scope = new RabbitMqScope();
        var instance = await scope.ProvisionedAsync();
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);

        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance, clientCertificate: true), Ct);

        var v = credentials.Values;
        Assert.Equal(["host", "port", "vhost", "username", "password", "uri", "managementUrl", "ca.crt", "tls.crt", "tls.key"], v.Keys);
        Assert.Equal(v["username"], IssuedCertificate.CommonNameOf(v["tls.crt"]));
        Assert.DoesNotContain("PRIVATE KEY", credentials.ToString(), StringComparison.Ordinal);
        using var certificate = TestRabbitMq.ClientCertificate(credentials);
        Assert.True(TestBackends.Ca.Verifies(certificate));
        await using (var conn = await TestRabbitMq.ConnectWithCertificateAsync(credentials, certificate, vhost))
        await using (var channel = await conn.CreateChannelAsync(cancellationToken: Ct))
        {
            await channel.QueueDeclareAsync("by-cert", durable: false, exclusive: false, autoDelete: false, cancellationToken: Ct);
            await channel.BasicPublishAsync("", "by-cert", Encoding.UTF8.GetBytes("signed in by certificate"), Ct);
        }

        await using var byPassword = await TestRabbitMq.ConnectAsync(credentials);
        await using var passwordChannel = await byPassword.CreateChannelAsync(cancellationToken: Ct);
        var message = await passwordChannel.BasicGetAsync("by-cert", autoAck: true, Ct);
        Assert.NotNull(message);
        Assert.Equal("signed in by certificate", Encoding.UTF8.GetString(message.Body.Span));
    }

    [Fact]
    public async Task BindAsync_ClientCertificateOfOtherInstance_CannotOpenThisVhost()
    {
        await using var scope = new RabbitMqScope();
        var mine = await scope.ProvisionedAsync();
        var other = await scope.ProvisionedAsync();
        var myCredentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(mine, clientCertificate: true), Ct);
        var otherCredentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(other, clientCertificate: true), Ct);
        using var otherCertificate = TestRabbitMq.ClientCertificate(otherCredentials);

        var e = await Assert.ThrowsAnyAsync<Exception>(() =>
            TestRabbitMq.ConnectWithCertificateAsync(myCredentials, otherCertificate, RabbitMqNames.Vhost(mine.InstanceId)));

        Assert.Equal(NotAllowed, TestRabbitMq.ReplyCode(e));
        // Its own vhost it does open: the refusal above is about the vhost, not a broken certificate.
        await using var own = await TestRabbitMq.ConnectWithCertificateAsync(otherCredentials, otherCertificate, RabbitMqNames.Vhost(other.InstanceId));
        Assert.True(own.IsOpen);
    }

    [Fact]
    public async Task RetireAsync_ClientCertificateOfOldGeneration_ConnectionClosedAndRefused_NewCertificateWorks()
    {
        await using var scope = new RabbitMqScope();
        var instance = await scope.ProvisionedAsync();
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);
        var gen0 = RabbitMqScope.NewBinding(instance, clientCertificate: true);
        var old = await scope.Driver.BindAsync(gen0, Ct);
        var fresh = await scope.Driver.BindAsync(gen0 with { Generation = 1 }, Ct);
        using var oldCertificate = TestRabbitMq.ClientCertificate(old);
        using var freshCertificate = TestRabbitMq.ClientCertificate(fresh);
        Assert.Equal(fresh.Values["username"], IssuedCertificate.CommonNameOf(fresh.Values["tls.crt"]));
        await using var open = await TestRabbitMq.ConnectWithCertificateAsync(old, oldCertificate, vhost);
        var closed = TestRabbitMq.ShutdownOf(open);

        await scope.Driver.RetireAsync(gen0 with { Generation = 1 }, 0, Ct);

        Assert.Equal(ConnectionForced, (await closed.WaitAsync(ShutdownWait, Ct)).ReplyCode);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectWithCertificateAsync(old, oldCertificate, vhost));
        Assert.Equal(AccessRefused, TestRabbitMq.ReplyCode(e));
        await using var works = await TestRabbitMq.ConnectWithCertificateAsync(fresh, freshCertificate, vhost);
        Assert.True(works.IsOpen);
    }

    [Fact]
    public async Task UnbindAsync_ClientCertificate_OpenConnectionClosedAndCertificateRefused()
    {
        await using var scope = new RabbitMqScope();
        var instance = await scope.ProvisionedAsync();
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);
        var binding = RabbitMqScope.NewBinding(instance, clientCertificate: true);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        using var certificate = TestRabbitMq.ClientCertificate(credentials);
        await using var open = await TestRabbitMq.ConnectWithCertificateAsync(credentials, certificate, vhost);
        var closed = TestRabbitMq.ShutdownOf(open);

        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.Equal(ConnectionForced, (await closed.WaitAsync(ShutdownWait, Ct)).ReplyCode);
        // The certificate itself is still valid and chains to the CA: the deleted user is what revokes it.
        Assert.True(TestBackends.Ca.Verifies(certificate));
        var e = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectWithCertificateAsync(credentials, certificate, vhost));
        Assert.Equal(AccessRefused, TestRabbitMq.ReplyCode(e));
    }

    [Fact]
    public async Task ClientCertificateFromForeignCa_ForAnExistingUser_Refused()
    {
        await using var scope = new RabbitMqScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance, clientCertificate: true), Ct);
        using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));
        // Same CN as the binding's real user: only the issuer differs.
        using var forged = foreign.IssueClient(credentials.Values["username"], TimeSpan.FromHours(1)).ToX509();

        var e = await Assert.ThrowsAnyAsync<Exception>(() =>
            TestRabbitMq.ConnectWithCertificateAsync(credentials, forged, RabbitMqNames.Vhost(instance.InstanceId)));

        // The node's TLS layer rejects the certificate (verify_peer, alert "Unknown CA" in its log) and closes the
        // socket; under TLS 1.3 the client sees that as a failed read, and no AMQP reply ever comes.
        Assert.IsType<BrokerUnreachableException>(e);
        Assert.True(HasInner<IOException>(e), e.ToString());
        Assert.Null(TestRabbitMq.ReplyCode(e));
    }

    [Fact]
    public async Task BindAsync_ClientCertificateOnPlainBackend_ThrowsBeforeCreatingUser()
    {
        var driver = RabbitMqScope.NewDriver();
        // Not tls=true; the management URL would not answer either, so nothing is reached before the refusal.
        var backend = TestRabbitMq.Endpoint with { Settings = new Dictionary<string, string> { ["managementUrl"] = "http://127.0.0.1:1" } };
        var instance = new InstanceContext(Guid.NewGuid(), backend, new Dictionary<string, int>(), new RecordingProgress());

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            driver.BindAsync(new BindingContext(instance, Guid.NewGuid()) { ClientCertificate = true }, Ct));

        Assert.Contains("AMQPS", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SupportsClientCertificates_IsTrue()
    {
        Assert.True(((IServiceDriver)RabbitMqScope.NewDriver()).SupportsClientCertificates);
    }

    private static bool HasInner<T>(Exception? e)
        where T : Exception
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is T || (e is AggregateException a && a.InnerExceptions.Any(HasInner<T>)))
            {
                return true;
            }
        }

        return false;
    }
}
