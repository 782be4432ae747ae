using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.S3;
using Portal.Provisioning.Tests.RabbitMq;

namespace Portal.Provisioning.Tests.S3;

/// <summary>
/// S3 instances on <see cref="TestS3"/>'s gateway, deprovisioned when the test ends, so a failing test leaves
/// no account, bucket, object or key behind.
/// </summary>
internal sealed class S3Scope() : DriverScope<S3Driver>(NewDriver(), () => TestS3.Endpoint)
{
    public static S3Driver NewDriver() => new(new TestHttpClientFactory(), NullLogger<S3Driver>.Instance);
}
