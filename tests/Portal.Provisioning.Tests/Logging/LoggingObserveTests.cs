using System.Runtime.Versioning;
using Portal.Provisioning.Logging;

namespace Portal.Provisioning.Tests.Logging;

/// <summary>
/// Drift detection and repair against the real rsyslog collector: what <see cref="LoggingDriver.ObserveAsync"/> sees
/// after its files were edited by hand, and a repair that puts back the old token.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class LoggingObserveTests : BindingObserveTests<LoggingDriver>
{
    protected override string SecretKey => LoggingDriver.TokenKey;

    // Removing a stream by hand removes its record and its tokens: nothing says which binding a token was without the record.
    protected override bool CredentialsOutliveInstance => false;

    private protected override DriverScope<LoggingDriver> NewScope() => new LoggingScope();

    private protected override async Task DeleteInstanceByHandAsync(InstanceContext instance)
    {
        using (await TestLogging.LockAsync())
        {
            await TestLogging.RemoveByHandAsync(instance, _ => true, wholeRecord: true);
        }
    }

    private protected override async Task DeleteGenerationByHandAsync(BindingContext binding)
    {
        var key = LoggingNames.BindingKey(binding.BindingId, binding.Generation);
        using (await TestLogging.LockAsync())
        {
            await TestLogging.RemoveByHandAsync(binding.Instance, k => k == key);
        }
    }

    private protected override async Task AssertCredentialsWorkAsync(BindingCredentials credentials)
    {
        var text = TestLogging.Unique("works");
        await TestLogging.LoggerAsync(credentials, text);
        await TestLogging.WaitForStreamAsync(credentials.Values["stream"], text);
    }

    private protected override Task AssertCredentialsRefusedAsync(BindingCredentials credentials) =>
        TestLogging.WaitUntilQuarantinedAsync(credentials);

    [Fact]
    public async Task ObserveAsync_TableEditedByHand_NamesMissingAndStrayTokens()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var stream = LoggingNames.Stream(instance.InstanceId);
        var binding = DriverScope<LoggingDriver>.NewBinding(instance);
        var other = DriverScope<LoggingDriver>.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        var otherCredentials = await scope.Driver.BindAsync(other, Ct);

        Observation observation;
        using (await TestLogging.LockAsync())
        {
            // The record of one binding lost, its token still live; the other's token gone from the live table only.
            await TestLogging.RemoveByHandAsync(instance, k => k == LoggingNames.BindingKey(binding.BindingId));
            TestLogging.WriteTableByHand(TestLogging.Table().Where(e => e.Key != otherCredentials.Values["token"])
                .Append(KeyValuePair.Create(SecretGenerator.Password(), stream)));

            observation = await scope.Driver.ObserveAsync(instance, Ct);
        }

        Assert.True(observation.Exists);
        Assert.Equal(
        [
            $"the lookup table lacks the token of {LoggingNames.BindingKey(other.BindingId)} of stream {stream}",
            $"the lookup table routes 1 token(s) to stream {stream} that no binding of it holds",
        ], observation.Differences);
        Assert.Empty(observation.Bindings!);
    }

    [Fact]
    public async Task ObserveAsync_CollectorDown_Throws()
    {
        await using var collector = TestLogging.UsePrivateCollector();
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        await collector.StopAsync();
        try
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.ObserveAsync(instance, Ct));
        }
        finally
        {
            await collector.StartAsync();
        }
    }

    [Fact]
    public async Task BindAsync_ExistingTokenOfAnotherBinding_RefusedAndTableUnchanged()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var taken = await scope.Driver.BindAsync(DriverScope<LoggingDriver>.NewBinding(instance), Ct);
        var binding = DriverScope<LoggingDriver>.NewBinding(instance) with { Existing = taken.Values };

        await Assert.ThrowsAsync<ArgumentException>(() => scope.Driver.BindAsync(binding, Ct));

        var observation = await scope.Driver.ObserveAsync(instance, Ct);
        Assert.Empty(observation.Differences);
        Assert.Single(observation.Bindings!);
        await AssertCredentialsWorkAsync(taken);
    }
}
