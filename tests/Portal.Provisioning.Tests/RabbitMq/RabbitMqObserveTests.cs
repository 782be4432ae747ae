using Portal.Provisioning.RabbitMq;

namespace Portal.Provisioning.Tests.RabbitMq;

/// <summary>
/// Drift detection and repair against the real RabbitMQ node: what <see cref="RabbitMqDriver.ObserveAsync"/> sees after
/// changes made by hand through the management API, and a repair that re-uses the password.
/// </summary>
public sealed class RabbitMqObserveTests : BindingObserveTests<RabbitMqDriver>
{
    private const int AccessRefused = 403;

    protected override IReadOnlyDictionary<string, int> Plan { get; } = new Dictionary<string, int> { ["connections"] = 10, ["queues"] = 20 };

    protected override string SecretKey => "password";

    private protected override DriverScope<RabbitMqDriver> NewScope() => new RabbitMqScope();

    private protected override Task DeleteInstanceByHandAsync(InstanceContext instance) =>
        TestRabbitMq.AdminSendAsync(HttpMethod.Delete, null, "vhosts", RabbitMqNames.Vhost(instance.InstanceId));

    private protected override Task DeleteGenerationByHandAsync(BindingContext binding) =>
        TestRabbitMq.AdminSendAsync(HttpMethod.Delete, null, "users",
            RabbitMqNames.BindingUser(binding.Instance.InstanceId, binding.BindingId, binding.Generation));

    private protected override async Task AssertCredentialsWorkAsync(BindingCredentials credentials)
    {
        await using var connection = await TestRabbitMq.ConnectAsync(credentials);
        Assert.True(connection.IsOpen);
    }

    private protected override async Task AssertCredentialsRefusedAsync(BindingCredentials credentials)
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => TestRabbitMq.ConnectAsync(credentials));
        Assert.Equal(AccessRefused, TestRabbitMq.ReplyCode(e));
    }

    [Fact]
    public async Task ObserveAsync_ChangedByHand_NamesEachDifference()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var vhost = RabbitMqNames.Vhost(instance.InstanceId);
        var binding = DriverScope<RabbitMqDriver>.NewBinding(instance);
        var other = DriverScope<RabbitMqDriver>.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        await scope.Driver.BindAsync(other, Ct);
        var user = RabbitMqNames.BindingUser(instance.InstanceId, binding.BindingId);
        var otherUser = RabbitMqNames.BindingUser(instance.InstanceId, other.BindingId);
        await TestRabbitMq.AdminSendAsync(HttpMethod.Put, new { value = 2 }, "vhost-limits", vhost, "max-connections");
        await TestRabbitMq.AdminSendAsync(HttpMethod.Delete, null, "vhost-limits", vhost, "max-queues");
        await TestRabbitMq.AdminSendAsync(HttpMethod.Put, new { configure = "", write = ".*", read = ".*" }, "permissions", vhost, user);
        await TestRabbitMq.AdminSendAsync(HttpMethod.Delete, null, "permissions", vhost, otherUser);
        await TestRabbitMq.AdminSendAsync(HttpMethod.Put, new { password = SecretGenerator.Password(), tags = "management" }, "users", otherUser);

        var observation = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.True(observation.Exists);
        Assert.Equal(
            new[]
            {
                $"limit max-connections of vhost {vhost} is 2, the plan says 10",
                $"limit max-queues of vhost {vhost} is unlimited, the plan says 20",
                $"user {user} may configure '', write '.*' and read '.*' on vhost {vhost}, not everything",
                $"user {otherUser} has the tags management, so it may use the management API",
                $"user {otherUser} has no permissions on vhost {vhost}",
            }.Order(StringComparer.Ordinal),
            observation.Differences.Order(StringComparer.Ordinal));
        Assert.Equal([0], observation.Bindings![binding.BindingId]);
        Assert.Equal([0], observation.Bindings[other.BindingId]);
    }

    [Fact]
    public async Task ObserveAsync_ManagementApiDown_Throws()
    {
        await using var scope = NewScope();
        var down = TestRabbitMq.Endpoint with
        {
            Settings = new Dictionary<string, string>(TestRabbitMq.Endpoint.Settings) { [RabbitMqDriver.ManagementUrlSetting] = "http://127.0.0.1:1" },
        };

        await Assert.ThrowsAsync<HttpRequestException>(() => scope.Driver.ObserveAsync(scope.NewInstance(backend: down), Ct));
    }
}
