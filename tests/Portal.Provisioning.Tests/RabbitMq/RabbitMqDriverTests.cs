using System.Net;
using System.Text;
using Portal.Provisioning.RabbitMq;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Portal.Provisioning.Tests.RabbitMq;

/// <summary>Integration tests against the real RabbitMQ node of <see cref="TestRabbitMq"/>, with RabbitMQ.Client as an app.</summary>
public sealed class RabbitMqDriverTests
{
    private const int NotAllowed = 530;
    private const int PreconditionFailed = 406;
    private const int ConnectionForced = 320;
    private const int AccessRefused = 403;

    private static readonly TimeSpan ShutdownWait = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ProvisionAsync_CalledTwice_IsIdempotent()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);

        var first = await scope.Driver.ProvisionAsync(instance, Ct);
        var second = await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(vhost, first.Outputs["vhost"]);
        Assert.Equal(first.Outputs, second.Outputs);
        var found = await TestRabbitMq.AdminGetAsync("vhosts", vhost);
        Assert.NotNull(found);
        Assert.Equal(vhost, found.Value.GetProperty("name").GetString());
        var progress = ((RecordingProgress)instance.Progress).Lines;
        Assert.Contains($"Creating vhost {vhost}", progress);
    }

    [Fact]
    public async Task ProvisionAsync_PlanLimits_AppliedAsVhostLimits()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance(new Dictionary<string, int> { ["connections"] = 3, ["queues"] = 4 });

        await scope.Driver.ProvisionAsync(instance, Ct);

        var limits = await TestRabbitMq.VhostLimitsAsync(RabbitMqNames.Vhost(instance.InstanceId));
        Assert.Equal(new Dictionary<string, int> { ["max-connections"] = 3, ["max-queues"] = 4 }, limits);
    }

    [Fact]
    public async Task ProvisionAsync_NoPlanLimits_VhostUnlimited()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();

        await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Empty(await TestRabbitMq.VhostLimitsAsync(RabbitMqNames.Vhost(instance.InstanceId)));
    }

    [Fact]
    public async Task ProvisionAsync_AfterCrashWithBareVhost_AppliesLimits()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance(new Dictionary<string, int> { ["queues"] = 2 });
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);
        // The state a crash right after creating the vhost leaves behind.
        await TestRabbitMq.AdminSendAsync(HttpMethod.Put, new { description = "half made" }, "vhosts", vhost);

        await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(new Dictionary<string, int> { ["max-queues"] = 2 }, await TestRabbitMq.VhostLimitsAsync(vhost));
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task ProvisionAsync_ConnectionLimit_ThirdConnectionRefused()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance(new Dictionary<string, int> { ["connections"] = 2 });
        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        await using var one = await TestRabbitMq.ConnectAsync(credentials);
        await using var two = await TestRabbitMq.ConnectAsync(credentials);

        var e = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectAsync(credentials));

        Assert.Equal(NotAllowed, TestRabbitMq.ReplyCode(e));
    }

    [Fact]
    public async Task ProvisionAsync_QueueLimit_ThirdQueueRefused()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance(new Dictionary<string, int> { ["queues"] = 2 });
        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        await using var conn = await TestRabbitMq.ConnectAsync(credentials);
        await using var channel = await conn.CreateChannelAsync(cancellationToken: Ct);
        await channel.QueueDeclareAsync("q1", durable: false, exclusive: false, autoDelete: false, cancellationToken: Ct);
        await channel.QueueDeclareAsync("q2", durable: false, exclusive: false, autoDelete: false, cancellationToken: Ct);

        var e = await Assert.ThrowsAnyAsync<Exception>(() =>
            channel.QueueDeclareAsync("q3", durable: false, exclusive: false, autoDelete: false, cancellationToken: Ct));

        Assert.Equal(PreconditionFailed, TestRabbitMq.ReplyCode(e));
    }

    [Fact]
    public async Task UpdateAsync_ChangedAndDroppedLimits_AppliedToVhost()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance(new Dictionary<string, int> { ["connections"] = 2, ["queues"] = 2 });
        await scope.Driver.ProvisionAsync(instance, Ct);

        await scope.Driver.UpdateAsync(instance with { Limits = new Dictionary<string, int> { ["queues"] = 5 } }, Ct);

        // The plan no longer limits connections, so neither does the vhost.
        Assert.Equal(new Dictionary<string, int> { ["max-queues"] = 5 },
            await TestRabbitMq.VhostLimitsAsync(RabbitMqNames.Vhost(instance.InstanceId)));
    }

    [Fact]
    public async Task UpdateAsync_RaisedConnectionLimit_AdmitsAnotherConnection()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance(new Dictionary<string, int> { ["connections"] = 1 });
        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        await using var one = await TestRabbitMq.ConnectAsync(credentials);
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectAsync(credentials));
        Assert.Equal(NotAllowed, TestRabbitMq.ReplyCode(refused));

        await scope.Driver.UpdateAsync(instance with { Limits = new Dictionary<string, int> { ["connections"] = 2 } }, Ct);

        await using var two = await TestRabbitMq.ConnectAsync(credentials);
        Assert.True(two.IsOpen);
    }

    [Fact]
    public async Task UpdateAsync_NotProvisioned_ThrowsInvalidOperation()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance(new Dictionary<string, int> { ["queues"] = 2 });

        await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.UpdateAsync(instance, Ct));

        Assert.False(await TestRabbitMq.VhostExistsAsync(RabbitMqNames.Vhost(instance.InstanceId)));
    }

    [Fact]
    public async Task BindAsync_Credentials_PublishAndConsumeThroughUri()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = RabbitMqScope.NewBinding(instance);

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        var v = credentials.Values;
        var backend = TestRabbitMq.Endpoint;
        Assert.Equal(["host", "port", "vhost", "username", "password", "uri", "managementUrl", "ca.crt"], v.Keys);
        Assert.Equal(backend.Host, v["host"]);
        Assert.Equal(backend.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), v["port"]);
        Assert.Equal(RabbitMqNames.Vhost(instance.InstanceId), v["vhost"]);
        Assert.Equal(RabbitMqNames.BindingUser(instance.InstanceId, binding.BindingId), v["username"]);
        Assert.Equal(32, v["password"].Length);
        Assert.Equal($"amqps://{v["username"]}:{v["password"]}@{v["host"]}:{v["port"]}/{v["vhost"]}", v["uri"]);
        Assert.Equal(TestBackends.Ca.CertificatePem, v["ca.crt"]);
        Assert.Equal(RabbitMqDriver.ManagementUrl(backend).AbsoluteUri.TrimEnd('/'), v["managementUrl"]);
        Assert.DoesNotContain(v["password"], credentials.ToString(), StringComparison.Ordinal);

        await using var conn = await TestRabbitMq.ConnectAsync(credentials);
        await using var channel = await conn.CreateChannelAsync(cancellationToken: Ct);
        await channel.QueueDeclareAsync("orders", durable: true, exclusive: false, autoDelete: false, cancellationToken: Ct);
        await channel.BasicPublishAsync("", "orders", Encoding.UTF8.GetBytes("order 1"), Ct);
        var message = await channel.BasicGetAsync("orders", autoAck: true, Ct);
        Assert.NotNull(message);
        Assert.Equal("order 1", Encoding.UTF8.GetString(message.Body.Span));
    }

    [Fact]
    public async Task BindAsync_SecondBinding_ConsumesWhatFirstPublished()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var first = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        var second = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        await using (var conn = await TestRabbitMq.ConnectAsync(first))
        await using (var channel = await conn.CreateChannelAsync(cancellationToken: Ct))
        {
            await channel.QueueDeclareAsync("shared", durable: true, exclusive: false, autoDelete: false, cancellationToken: Ct);
            await channel.BasicPublishAsync("", "shared", Encoding.UTF8.GetBytes("from first"), Ct);
        }

        await using var other = await TestRabbitMq.ConnectAsync(second);
        await using var otherChannel = await other.CreateChannelAsync(cancellationToken: Ct);
        var message = await otherChannel.BasicGetAsync("shared", autoAck: true, Ct);

        Assert.NotNull(message);
        Assert.Equal("from first", Encoding.UTF8.GetString(message.Body.Span));
        Assert.NotEqual(first.Values["username"], second.Values["username"]);
    }

    [Fact]
    public async Task BindAsync_OtherInstancesVhost_AccessRefused()
    {
        await using var scope = new RabbitMqScope();
        var mine = scope.NewInstance();
        var other = scope.NewInstance();
        await scope.Driver.ProvisionAsync(mine, Ct);
        await scope.Driver.ProvisionAsync(other, Ct);
        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(mine), Ct);

        var e = await Assert.ThrowsAnyAsync<Exception>(
            () => TestRabbitMq.ConnectAsync(credentials, RabbitMqNames.Vhost(other.InstanceId)));

        Assert.Equal(NotAllowed, TestRabbitMq.ReplyCode(e));
    }

    [Fact]
    public async Task BindAsync_DefaultVhost_AccessRefused()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);

        var e = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectAsync(credentials, "/"));

        Assert.Equal(NotAllowed, TestRabbitMq.ReplyCode(e));
    }

    [Fact]
    public async Task BindAsync_ManagementApi_RefusedWithoutManagementTag()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var v = (await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct)).Values;

        // Server-wide facts (other vhosts, users, connections) are out of reach; so is the instance's own vhost.
        Assert.Equal(HttpStatusCode.Unauthorized, await TestRabbitMq.StatusAsUserAsync(v["username"], v["password"], "overview"));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestRabbitMq.StatusAsUserAsync(v["username"], v["password"], "vhosts"));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestRabbitMq.StatusAsUserAsync(v["username"], v["password"], "users"));
    }

    [Fact]
    public async Task BindAsync_CalledTwice_RotatesPassword()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = RabbitMqScope.NewBinding(instance);

        var old = await scope.Driver.BindAsync(binding, Ct);
        var fresh = await scope.Driver.BindAsync(binding, Ct);

        Assert.Equal(old.Values["username"], fresh.Values["username"]);
        Assert.NotEqual(old.Values["password"], fresh.Values["password"]);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectAsync(old));
        Assert.Equal(AccessRefused, TestRabbitMq.ReplyCode(e));
        await using var conn = await TestRabbitMq.ConnectAsync(fresh);
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task BindAsync_InstanceNotProvisioned_ThrowsInvalidOperation()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();

        await Assert.ThrowsAsync<InvalidOperationException>(
            () => scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct));

        Assert.Empty(await TestRabbitMq.UsersContainingAsync(instance.InstanceId.ToString("N")));
    }

    [Fact]
    public async Task BindAsync_AfterCrashBeforeGrant_CompletesBinding()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = RabbitMqScope.NewBinding(instance);
        // A bind that crashed after creating the user and before granting it the vhost.
        await TestRabbitMq.AdminSendAsync(HttpMethod.Put, new { password = SecretGenerator.Password(), tags = "" },
            "users", RabbitMqNames.BindingUser(instance.InstanceId, binding.BindingId));

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        await using var conn = await TestRabbitMq.ConnectAsync(credentials);
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task UnbindAsync_OpenConnection_ClosedAndLoginFails()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = RabbitMqScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        await using var open = await TestRabbitMq.ConnectAsync(credentials);
        var closed = TestRabbitMq.ShutdownOf(open);

        await scope.Driver.UnbindAsync(binding, Ct);

        var reason = await closed.WaitAsync(ShutdownWait, Ct);
        Assert.Equal(ConnectionForced, reason.ReplyCode);
        Assert.False(open.IsOpen);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectAsync(credentials));
        Assert.Equal(AccessRefused, TestRabbitMq.ReplyCode(e));
        Assert.Empty(await TestRabbitMq.UsersContainingAsync(binding.BindingId.ToString("N")));
        // The instance outlives the binding.
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task UnbindAsync_CalledTwiceAndAfterDeprovision_Succeeds()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = RabbitMqScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);

        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.Empty(await TestRabbitMq.UsersContainingAsync(binding.BindingId.ToString("N")));
    }

    [Fact]
    public async Task DeprovisionAsync_WithBindingsAndOpenConnection_RemovesVhostAndUsers()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance(new Dictionary<string, int> { ["queues"] = 5 });
        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        await using var open = await TestRabbitMq.ConnectAsync(credentials);
        var closed = TestRabbitMq.ShutdownOf(open);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        await closed.WaitAsync(ShutdownWait, Ct);
        Assert.False(open.IsOpen);
        Assert.False(await TestRabbitMq.VhostExistsAsync(RabbitMqNames.Vhost(instance.InstanceId)));
        Assert.Empty(await TestRabbitMq.VhostLimitsAsync(RabbitMqNames.Vhost(instance.InstanceId)));
        Assert.Empty(await TestRabbitMq.UsersContainingAsync(instance.InstanceId.ToString("N")));
        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task DeprovisionAsync_CalledTwice_Succeeds()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);

        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.False(await TestRabbitMq.VhostExistsAsync(RabbitMqNames.Vhost(instance.InstanceId)));
        Assert.Empty(await TestRabbitMq.UsersContainingAsync(instance.InstanceId.ToString("N")));
    }

    [Fact]
    public async Task DeprovisionAsync_NeverProvisioned_Succeeds()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task DeprovisionAsync_AfterCrashWithVhostGone_RemovesLeftoverUsers()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        await scope.Driver.BindAsync(RabbitMqScope.NewBinding(instance), Ct);
        // Deleting the vhost drops its permissions but keeps the users: nothing links them to the vhost any more.
        await TestRabbitMq.AdminSendAsync(HttpMethod.Delete, null, "vhosts", RabbitMqNames.Vhost(instance.InstanceId));
        Assert.Equal(2, (await TestRabbitMq.UsersContainingAsync(instance.InstanceId.ToString("N"))).Count);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Empty(await TestRabbitMq.UsersContainingAsync(instance.InstanceId.ToString("N")));
    }

    [Fact]
    public async Task DeprovisionAsync_UserOfBindCrashedBeforeGrant_Removed()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        await TestRabbitMq.AdminSendAsync(HttpMethod.Put, new { password = SecretGenerator.Password(), tags = "" },
            "users", RabbitMqNames.BindingUser(instance.InstanceId, Guid.NewGuid()));

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Empty(await TestRabbitMq.UsersContainingAsync(instance.InstanceId.ToString("N")));
    }

    [Fact]
    public async Task DeprovisionAsync_OtherInstance_KeepsItsVhostAndUsers()
    {
        await using var scope = new RabbitMqScope();
        var gone = scope.NewInstance();
        var kept = scope.NewInstance();
        await scope.Driver.ProvisionAsync(gone, Ct);
        await scope.Driver.ProvisionAsync(kept, Ct);
        await scope.Driver.BindAsync(RabbitMqScope.NewBinding(gone), Ct);
        var credentials = await scope.Driver.BindAsync(RabbitMqScope.NewBinding(kept), Ct);

        await scope.Driver.DeprovisionAsync(gone, Ct);

        Assert.True((await scope.Driver.CheckAsync(kept, Ct)).Healthy);
        await using var conn = await TestRabbitMq.ConnectAsync(credentials);
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task CheckAsync_Provisioned_ReportsHealthy()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.Equal($"vhost {RabbitMqNames.Vhost(instance.InstanceId)} is running", report.Message);
    }

    [Fact]
    public async Task CheckAsync_NotProvisioned_ReportsVhostDoesNotExist()
    {
        await using var scope = new RabbitMqScope();
        var instance = scope.NewInstance();

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.Equal($"vhost {RabbitMqNames.Vhost(instance.InstanceId)} does not exist", report.Message);
    }

    [Fact]
    public async Task CheckAsync_ManagementApiUnreachable_ReportsUnhealthy()
    {
        var driver = RabbitMqScope.NewDriver();
        var backend = WithManagementUrl(TestRabbitMq.Endpoint, "http://127.0.0.1:1");
        var instance = new InstanceContext(Guid.NewGuid(), backend, new Dictionary<string, int>(), new RecordingProgress());

        var report = await driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("not reachable", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_AdminCredentials_ReportsHealthyWithVersion()
    {
        var report = await RabbitMqScope.NewDriver().TestBackendAsync(TestRabbitMq.Endpoint, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.StartsWith("RabbitMQ 3.", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_WrongPassword_ReportsUnhealthy()
    {
        var backend = TestRabbitMq.Endpoint with { AdminPassword = "wrong-" + Guid.NewGuid().ToString("N") };

        var report = await RabbitMqScope.NewDriver().TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("401", report.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(backend.AdminPassword, report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_NotAdministrator_ReportsUnhealthy()
    {
        var user = "monitor_" + Guid.NewGuid().ToString("N")[..12];
        var password = SecretGenerator.Password();
        await TestRabbitMq.AdminSendAsync(HttpMethod.Put, new { password, tags = "monitoring" }, "users", user);
        try
        {
            var report = await RabbitMqScope.NewDriver().TestBackendAsync(
                TestRabbitMq.Endpoint with { AdminUser = user, AdminPassword = password }, Ct);

            Assert.False(report.Healthy);
            Assert.Contains("administrator tag", report.Message, StringComparison.Ordinal);
        }
        finally
        {
            await TestRabbitMq.AdminSendAsync(HttpMethod.Delete, null, "users", user);
        }
    }

    [Fact]
    public async Task TestBackendAsync_PortIsNoAmqpListener_ReportsUnhealthy()
    {
        var backend = TestRabbitMq.Endpoint;
        var wrong = backend with { Port = RabbitMqDriver.ManagementUrl(backend).Port };

        var report = await RabbitMqScope.NewDriver().TestBackendAsync(wrong, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("no AMQPS listener", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_NoManagementUrl_ReportsUnhealthy()
    {
        var backend = TestRabbitMq.Endpoint with { Settings = new Dictionary<string, string>() };

        var report = await RabbitMqScope.NewDriver().TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("managementUrl", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_NothingListening_ReportsUnhealthy()
    {
        var backend = WithManagementUrl(TestRabbitMq.Endpoint, "http://127.0.0.1:1");

        var report = await RabbitMqScope.NewDriver().TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("not reachable", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProvisionAsync_WrongAdminPassword_ThrowsWithStatusButNoSecret()
    {
        var backend = TestRabbitMq.Endpoint with { AdminPassword = "wrong-" + Guid.NewGuid().ToString("N") };
        var instance = new InstanceContext(Guid.NewGuid(), backend, new Dictionary<string, int>(), new RecordingProgress());

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => RabbitMqScope.NewDriver().ProvisionAsync(instance, Ct));

        Assert.Equal(HttpStatusCode.Unauthorized, e.StatusCode);
        Assert.Contains("PUT /api/vhosts/", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(backend.AdminPassword, e.ToString(), StringComparison.Ordinal);
        Assert.False(await TestRabbitMq.VhostExistsAsync(RabbitMqNames.Vhost(instance.InstanceId)));
    }

    private static BackendEndpoint WithManagementUrl(BackendEndpoint backend, string url) =>
        backend with { Settings = new Dictionary<string, string> { ["managementUrl"] = url } };
}
