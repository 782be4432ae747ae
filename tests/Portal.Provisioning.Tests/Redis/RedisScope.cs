using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.Redis;

namespace Portal.Provisioning.Tests.Redis;

/// <summary>
/// Hands out Redis instances with fresh ids and deprovisions all of them when disposed (the test's finally),
/// so a failing test leaves no keys or users behind on the server.
/// </summary>
internal sealed class RedisScope : IAsyncDisposable
{
    private readonly List<InstanceContext> _instances = [];

    public RedisDriver Driver { get; } = new(NullLogger<RedisDriver>.Instance);

    public InstanceContext NewInstance()
    {
        var instance = new InstanceContext(
            Guid.NewGuid(), TestRedis.Endpoint, new Dictionary<string, int>(), new RecordingProgress());
        _instances.Add(instance);
        return instance;
    }

    /// <summary>A new instance, provisioned.</summary>
    public async Task<InstanceContext> ProvisionedAsync()
    {
        var instance = NewInstance();
        await Driver.ProvisionAsync(instance, TestContext.Current.CancellationToken);
        return instance;
    }

    public static BindingContext NewBinding(InstanceContext instance) => new(instance, Guid.NewGuid());

    public async ValueTask DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            await Driver.DeprovisionAsync(instance, CancellationToken.None);
        }
    }
}
