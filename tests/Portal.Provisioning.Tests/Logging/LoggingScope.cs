using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.Logging;

namespace Portal.Provisioning.Tests.Logging;

/// <summary>
/// Log streams on <see cref="TestLogging"/>'s collector (or the test's private one), deprovisioned when the
/// test ends, so a failing test leaves no tokens or files behind.
/// </summary>
internal sealed class LoggingScope() : DriverScope<LoggingDriver>(NewDriver(), () => TestLogging.Endpoint)
{
    public static LoggingDriver NewDriver(TimeProvider? time = null) => new(NullLogger<LoggingDriver>.Instance, time);
}
