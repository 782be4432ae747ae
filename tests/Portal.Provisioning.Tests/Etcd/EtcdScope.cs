using Portal.Provisioning.Etcd;

namespace Portal.Provisioning.Tests.Etcd;

/// <summary>
/// Hands out etcd instances with fresh ids and deprovisions all of them when disposed (the test's finally), so a
/// failing test leaves nothing behind on the backend.
/// </summary>
internal sealed class EtcdScope : IAsyncDisposable
{
    private readonly List<InstanceContext> _instances = [];

    public EtcdDriver Driver { get; } = TestEtcd.NewDriver();

    public InstanceContext NewInstance(BackendEndpoint? backend = null)
    {
        var instance = new InstanceContext(
            Guid.NewGuid(), backend ?? TestEtcd.Endpoint, new Dictionary<string, int>(), new RecordingProgress());
        _instances.Add(instance);
        return instance;
    }

    public static BindingContext NewBinding(InstanceContext instance) => new(instance, Guid.NewGuid());

    public async ValueTask DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            await Driver.DeprovisionAsync(instance with { Backend = TestEtcd.Endpoint }, CancellationToken.None);
        }
    }
}
