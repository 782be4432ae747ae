using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.Postgres;

namespace Portal.Provisioning.Tests;

/// <summary>
/// Hands out instances with fresh ids and deprovisions all of them when disposed (the test's finally), so a
/// failing test leaves nothing behind on the backend.
/// </summary>
internal sealed class DriverScope : IAsyncDisposable
{
    private readonly List<InstanceContext> _instances = [];

    public PostgresDriver Driver { get; } = new(NullLogger<PostgresDriver>.Instance);

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public InstanceContext NewInstance(IReadOnlyDictionary<string, int>? limits = null)
    {
        var instance = new InstanceContext(
            Guid.NewGuid(), TestBackend.Endpoint, limits ?? new Dictionary<string, int>(), new RecordingProgress());
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
