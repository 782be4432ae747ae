using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.RabbitMq;

namespace Portal.Provisioning.Tests.RabbitMq;

/// <summary>
/// Hands out RabbitMQ instances with fresh ids and deprovisions all of them when disposed (the test's finally),
/// so a failing test leaves nothing behind on the node.
/// </summary>
internal sealed class RabbitMqScope : IAsyncDisposable
{
    private readonly List<InstanceContext> _instances = [];

    public RabbitMqDriver Driver { get; } = NewDriver();

    public static RabbitMqDriver NewDriver() => new(new TestHttpClientFactory(), NullLogger<RabbitMqDriver>.Instance);

    public InstanceContext NewInstance(IReadOnlyDictionary<string, int>? limits = null)
    {
        var instance = new InstanceContext(
            Guid.NewGuid(), TestRabbitMq.Endpoint, limits ?? new Dictionary<string, int>(), new RecordingProgress());
        _instances.Add(instance);
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
