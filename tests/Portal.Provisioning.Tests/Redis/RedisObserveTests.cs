using Portal.Provisioning.Redis;
using StackExchange.Redis;

namespace Portal.Provisioning.Tests.Redis;

/// <summary>
/// Drift detection and repair against the real Redis server: what <see cref="RedisDriver.ObserveAsync"/> sees after ACL
/// changes made by hand, and a repair that re-uses the password.
/// </summary>
public sealed class RedisObserveTests : BindingObserveTests<RedisDriver>
{
    private static readonly Guid KnownId = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");

    protected override string SecretKey => "password";

    private protected override DriverScope<RedisDriver> NewScope() => new RedisScope();

    private protected override Task DeleteInstanceByHandAsync(InstanceContext instance) =>
        TestRedis.AdminAsync("ACL", "DELUSER", RedisNames.InstanceUser(instance.InstanceId));

    private protected override Task DeleteGenerationByHandAsync(BindingContext binding) =>
        TestRedis.AdminAsync("ACL", "DELUSER", RedisNames.BindingUser(binding.BindingId, binding.Generation));

    private protected override async Task AssertCredentialsWorkAsync(BindingCredentials credentials)
    {
        await using var connection = await TestRedis.ConnectAsync(credentials);
        var db = connection.GetDatabase();
        var key = credentials.Values["prefix"] + Guid.NewGuid().ToString("N");
        Assert.True(await db.StringSetAsync(key, "v"));
        Assert.Equal("v", await db.StringGetAsync(key));
    }

    private protected override async Task AssertCredentialsRefusedAsync(BindingCredentials credentials)
    {
        var e = await Assert.ThrowsAsync<RedisConnectionException>(() => TestRedis.ConnectAsync(credentials));
        Assert.Equal(ConnectionFailureType.AuthenticationFailure, e.FailureType);
    }

    [Fact]
    public async Task ObserveAsync_AclChangedByHand_NamesEachDifference()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope<RedisDriver>.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        var marker = RedisNames.InstanceUser(instance.InstanceId);
        var user = RedisNames.BindingUser(binding.BindingId);
        var pattern = RedisNames.Pattern(instance.InstanceId);
        await TestRedis.AdminAsync("ACL", "SETUSER", marker, "on");
        await TestRedis.AdminAsync("ACL", "SETUSER", user, "off", "+scan", "~other:*", "&*");

        var observation = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.True(observation.Exists);
        Assert.Equal(
        [
            $"the marker user {marker} is on",
            $"ACL user {user} is off",
            $"ACL user {user} may reach the keys ~{pattern} ~other:*, not only {pattern}",
            $"ACL user {user} may reach the channels &*, not only {pattern}",
            $"ACL user {user} lacks the command rules -scan",
        ], observation.Differences);
        Assert.Equal([0], observation.Bindings![binding.BindingId]);
    }

    [Fact]
    public void BindingUserDrift_NopassAndSelectors_Named()
    {
        var pattern = RedisNames.Pattern(KnownId);
        var line = $"user pb-x on nopass sanitize-payload ~{pattern} resetchannels &{pattern} {string.Join(' ', RedisAcl.CommandRules)} (~* +get) +keys";

        var differences = RedisAcl.BindingUserDrift(line, KnownId);

        Assert.Equal(
        [
            "ACL user pb-x takes any password (nopass)",
            "ACL user pb-x has selectors, which may grant more than its own rules",
            "ACL user pb-x has the command rules +keys, which the driver does not give",
        ], differences);
    }

    [Fact]
    public void BindingUserDrift_AsRedisPrintsTheDriversRules_None()
    {
        // ACL LIST of a user made with BindingUserRules, as Redis 7.0 prints it (command rules in its own order).
        var pattern = RedisNames.Pattern(KnownId);
        var line = $"user pb-x on sanitize-payload #{new string('0', 64)} ~{pattern} resetchannels &{pattern} +@all -@dangerous " +
            "-randomkey -copy -pubsub -function -scan -script|flush -select -memory +memory|usage -move -dbsize -client|tracking";

        Assert.Empty(RedisAcl.BindingUserDrift(line, KnownId));
    }
}
