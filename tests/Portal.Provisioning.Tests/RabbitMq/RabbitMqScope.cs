using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.RabbitMq;

namespace Portal.Provisioning.Tests.RabbitMq;

/// <summary>RabbitMQ instances on <see cref="TestRabbitMq"/>'s node, deprovisioned when the test ends.</summary>
internal sealed class RabbitMqScope() : DriverScope<RabbitMqDriver>(NewDriver(), () => TestRabbitMq.Endpoint)
{
    public static RabbitMqDriver NewDriver() => new(new TestHttpClientFactory(), NullLogger<RabbitMqDriver>.Instance);
}
