using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.Redis;

namespace Portal.Provisioning.Tests.Redis;

/// <summary>
/// Redis instances on <see cref="TestRedis"/>'s server (or the test's private one), deprovisioned when the
/// test ends, so a failing test leaves no keys or users behind.
/// </summary>
internal sealed class RedisScope() : DriverScope<RedisDriver>(new(NullLogger<RedisDriver>.Instance), () => TestRedis.Endpoint);
