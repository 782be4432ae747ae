using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.Postgres;

namespace Portal.Provisioning.Tests;

/// <summary>
/// Hands out instances with fresh ids on a driver's test server and deprovisions all of them when disposed
/// (the test's finally), so a failing test leaves nothing behind on the backend.
/// </summary>
internal class DriverScope<TDriver>(TDriver driver, Func<BackendEndpoint> testBackend) : IAsyncDisposable
    where TDriver : IServiceDriver
{
    private readonly List<InstanceContext> _instances = [];

    public TDriver Driver { get; } = driver;

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <param name="limits">The plan's limits; none by default.</param>
    /// <param name="backend">Another endpoint than the test server's, e.g. one that is down.</param>
    public InstanceContext NewInstance(IReadOnlyDictionary<string, int>? limits = null, BackendEndpoint? backend = null)
    {
        var instance = new InstanceContext(
            Guid.NewGuid(), backend ?? testBackend(), limits ?? new Dictionary<string, int>(), new RecordingProgress());
        _instances.Add(instance);
        return instance;
    }

    /// <summary>A new instance, provisioned.</summary>
    public async Task<InstanceContext> ProvisionedAsync(IReadOnlyDictionary<string, int>? limits = null)
    {
        var instance = NewInstance(limits);
        await Driver.ProvisionAsync(instance, Ct);
        return instance;
    }

    /// <summary>A new binding of generation 0; a rotation is <c>binding with { Generation = 1 }</c>.</summary>
    public static BindingContext NewBinding(InstanceContext instance, bool clientCertificate = false) =>
        new(instance, Guid.NewGuid()) { ClientCertificate = clientCertificate };

    public async ValueTask DisposeAsync()
    {
        // On the test server even for instances a test pointed elsewhere, so they are cleaned up too.
        foreach (var instance in _instances)
        {
            await Driver.DeprovisionAsync(instance with { Backend = testBackend() }, CancellationToken.None);
        }
    }
}

/// <summary>PostgreSQL instances on <see cref="TestBackend"/>.</summary>
internal sealed class DriverScope() : DriverScope<PostgresDriver>(new(NullLogger<PostgresDriver>.Instance), () => TestBackend.Endpoint);

/// <summary>Collects progress lines synchronously (unlike <see cref="Progress{T}"/>, which posts them).</summary>
internal sealed class RecordingProgress : IProgress<string>
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public void Report(string value)
    {
        lock (_lines)
        {
            _lines.Add(value);
        }
    }
}
