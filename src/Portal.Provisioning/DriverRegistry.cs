namespace Portal.Provisioning;

/// <summary>Finds the driver for an offering or backend kind.</summary>
public sealed class DriverRegistry(IEnumerable<IServiceDriver> drivers)
{
    private readonly Dictionary<string, IServiceDriver> _byKind = drivers.ToDictionary(d => d.Kind, StringComparer.Ordinal);

    public IEnumerable<string> Kinds => _byKind.Keys.Order();

    public IEnumerable<IServiceDriver> All => _byKind.Values;

    public IServiceDriver? Find(string? kind) => kind is not null && _byKind.TryGetValue(kind, out var d) ? d : null;

    public IServiceDriver Get(string kind) =>
        Find(kind) ?? throw new InvalidOperationException($"No driver is registered for the kind '{kind}'.");
}
