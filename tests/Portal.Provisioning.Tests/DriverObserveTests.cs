namespace Portal.Provisioning.Tests;

/// <summary>
/// What every driver's <see cref="IServiceDriver.ObserveAsync"/> must show on its real server: a provisioned instance
/// without differences, an instance deleted by hand with the backend's own admin tools as missing, and nothing at all
/// after deprovisioning or for an instance that never was. A kind's test class adds how its instances are made and
/// deleted by hand, and the differences of its own.
/// </summary>
public abstract class InstanceObserveTests<TDriver>
    where TDriver : IServiceDriver
{
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The plan the instances of these tests have.</summary>
    protected virtual IReadOnlyDictionary<string, int> Plan { get; } = new Dictionary<string, int>();

    /// <summary>True when the kind keeps credentials per binding on the backend (<see cref="Observation.Bindings"/> not null).</summary>
    protected virtual bool TracksBindings => true;

    private protected abstract DriverScope<TDriver> NewScope();

    /// <summary>A new instance of the scope with <see cref="Plan"/> (and the parameters the kind needs), not provisioned.</summary>
    private protected virtual InstanceContext NewInstance(DriverScope<TDriver> scope) => scope.NewInstance(Plan);

    /// <summary>Deletes the instance's main resource by hand, with the backend's own admin tools (not the driver).</summary>
    private protected abstract Task DeleteInstanceByHandAsync(InstanceContext instance);

    private protected async Task<InstanceContext> ProvisionedAsync(DriverScope<TDriver> scope)
    {
        var instance = NewInstance(scope);
        await scope.Driver.ProvisionAsync(instance, Ct);
        return instance;
    }

    [Fact]
    public async Task ObserveAsync_Provisioned_ExistsWithoutDifferences()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);

        var observation = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.True(observation.Exists);
        Assert.Empty(observation.Differences);
        Assert.Equal(TracksBindings, observation.Bindings is not null);
        Assert.Empty(observation.Bindings ?? new Dictionary<Guid, IReadOnlySet<int>>());
    }

    [Fact]
    public async Task ObserveAsync_InstanceDeletedByHand_DoesNotExist()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);

        await DeleteInstanceByHandAsync(instance);

        Assert.False((await scope.Driver.ObserveAsync(instance, Ct)).Exists);
    }

    [Fact]
    public async Task ObserveAsync_AfterDeprovision_IsEmpty()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope<TDriver>.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        var observation = await scope.Driver.ObserveAsync(instance, Ct);
        Assert.True(observation.IsEmpty, string.Join("; ", observation.Differences));
    }

    [Fact]
    public async Task ObserveAsync_NeverProvisioned_IsEmptyWithoutDifferences()
    {
        await using var scope = NewScope();

        var observation = await scope.Driver.ObserveAsync(NewInstance(scope), Ct);

        Assert.True(observation.IsEmpty);
        Assert.Empty(observation.Differences);
        Assert.Equal(TracksBindings, observation.Bindings is not null);
    }
}

/// <summary>
/// <see cref="InstanceObserveTests{TDriver}"/> for kinds with credentials per binding on the backend: each generation is
/// listed while its credentials are there, one deleted by hand is gone, and a repair (provision again, then bind with
/// <see cref="BindingContext.Existing"/>) brings the old credentials back where the kind can set the secret.
/// </summary>
public abstract class BindingObserveTests<TDriver> : InstanceObserveTests<TDriver>
    where TDriver : IServiceDriver
{
    /// <summary>The credential key of the secret a repair re-uses (or, see <see cref="ReusesSecret"/>, replaces).</summary>
    protected abstract string SecretKey { get; }

    /// <summary>True when the backend lets the driver set the secret, so a repair keeps the old one.</summary>
    protected virtual bool ReusesSecret => true;

    /// <summary>
    /// True when a binding's credentials outlive the instance's main resource deleted by hand
    /// (<see cref="InstanceObserveTests{TDriver}.DeleteInstanceByHandAsync"/>), so they are listed as left behind.
    /// </summary>
    protected virtual bool CredentialsOutliveInstance => true;

    /// <summary>Deletes one generation's credentials by hand, with the backend's own admin tools.</summary>
    private protected abstract Task DeleteGenerationByHandAsync(BindingContext binding);

    /// <summary>Uses the credentials as an app would, with the server's own client; fails when they do not work.</summary>
    private protected abstract Task AssertCredentialsWorkAsync(BindingCredentials credentials);

    /// <summary>Fails unless the server refuses the credentials.</summary>
    private protected abstract Task AssertCredentialsRefusedAsync(BindingCredentials credentials);

    [Fact]
    public async Task ObserveAsync_BoundAndRotated_ListsEachGeneration()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope<TDriver>.NewBinding(instance);
        var other = DriverScope<TDriver>.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        await scope.Driver.BindAsync(other, Ct);

        var bound = await scope.Driver.ObserveAsync(instance, Ct);
        await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);
        var rotated = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.True(bound.Exists);
        Assert.Empty(bound.Differences);
        Assert.Equal(2, bound.Bindings!.Count);
        Assert.Equal([0], bound.Bindings[binding.BindingId]);
        Assert.Equal([0], bound.Bindings[other.BindingId]);
        Assert.Empty(rotated.Differences);
        Assert.Equal([0, 1], rotated.Bindings![binding.BindingId].Order());
        Assert.Equal([0], rotated.Bindings[other.BindingId]);
    }

    [Fact]
    public async Task ObserveAsync_GenerationDeletedByHand_OnlyTheOthersListed()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope<TDriver>.NewBinding(instance);
        var gen0 = await scope.Driver.BindAsync(binding, Ct);
        await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);

        await DeleteGenerationByHandAsync(binding);

        var observation = await scope.Driver.ObserveAsync(instance, Ct);
        Assert.True(observation.Exists);
        Assert.Equal([1], observation.Bindings![binding.BindingId]);
        await AssertCredentialsRefusedAsync(gen0);
    }

    [Fact]
    public async Task ObserveAsync_InstanceDeletedByHand_CredentialsLeftBehindListed()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope<TDriver>.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);

        await DeleteInstanceByHandAsync(instance);

        var observation = await scope.Driver.ObserveAsync(instance, Ct);
        Assert.False(observation.Exists);
        if (CredentialsOutliveInstance)
        {
            Assert.False(observation.IsEmpty);
            Assert.Equal([0], observation.Bindings![binding.BindingId]);
        }
        else
        {
            Assert.True(observation.IsEmpty);
        }
    }

    [Fact]
    public async Task BindAsync_RepairWithExistingAfterEverythingDeletedByHand_OldCredentialsWorkAgainAndObservationClean()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope<TDriver>.NewBinding(instance);
        var old = await scope.Driver.BindAsync(binding, Ct);
        await DeleteGenerationByHandAsync(binding);
        await DeleteInstanceByHandAsync(instance);
        var lost = await scope.Driver.ObserveAsync(instance, Ct);
        await AssertCredentialsRefusedAsync(old);

        await scope.Driver.ProvisionAsync(instance, Ct);
        var repaired = await scope.Driver.BindAsync(binding with { Existing = old.Values }, Ct);

        Assert.True(lost.IsEmpty, string.Join("; ", lost.Differences));
        if (ReusesSecret)
        {
            Assert.Equal(old.Values[SecretKey], repaired.Values[SecretKey]);
            await AssertCredentialsWorkAsync(old);
        }
        else
        {
            Assert.NotEqual(old.Values[SecretKey], repaired.Values[SecretKey]);
            await AssertCredentialsRefusedAsync(old);
        }

        await AssertCredentialsWorkAsync(repaired);
        var observation = await scope.Driver.ObserveAsync(instance, Ct);
        Assert.True(observation.Exists);
        Assert.Empty(observation.Differences);
        Assert.Equal([0], observation.Bindings![binding.BindingId]);
    }

    [Fact]
    public async Task BindAsync_WithoutExisting_FreshSecret()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope<TDriver>.NewBinding(instance);

        var first = await scope.Driver.BindAsync(binding, Ct);
        var again = await scope.Driver.BindAsync(binding, Ct);

        Assert.NotEqual(first.Values[SecretKey], again.Values[SecretKey]);
        await AssertCredentialsRefusedAsync(first);
        await AssertCredentialsWorkAsync(again);
    }
}
