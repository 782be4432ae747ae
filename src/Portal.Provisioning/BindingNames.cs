using System.Globalization;

namespace Portal.Provisioning;

/// <summary>One generation of one binding, as read back from a backend name.</summary>
public readonly record struct BindingGeneration(Guid BindingId, int Generation);

/// <summary>
/// Reads binding ids and generations back from the backend names the drivers' <c>&lt;Kind&gt;Names</c> make as
/// <c>prefix + binding id (32 hex digits) [+ generation mark + n]</c>, for <see cref="IServiceDriver.ObserveAsync"/>.
/// </summary>
internal static class BindingNames
{
    /// <summary>
    /// The binding and generation <paramref name="name"/> names, or null when it is not such a name: the id in the case
    /// the kind writes it, and a generation n ≥ 1 written without leading zeros (generation 0 has no mark), so each
    /// generation has exactly one name.
    /// </summary>
    public static BindingGeneration? Parse(string name, string prefix, string generationMark, bool upperCaseId = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        const int IdLength = 32;
        if (!name.StartsWith(prefix, StringComparison.Ordinal) || name.Length < prefix.Length + IdLength)
        {
            return null;
        }

        var id = name.AsSpan(prefix.Length, IdLength);
        foreach (var c in id)
        {
            if (!(char.IsAsciiDigit(c) || (upperCaseId ? c is >= 'A' and <= 'F' : c is >= 'a' and <= 'f')))
            {
                return null;
            }
        }

        var bindingId = Guid.ParseExact(id, "N");
        var rest = name.AsSpan(prefix.Length + IdLength);
        if (rest.Length == 0)
        {
            return new BindingGeneration(bindingId, 0);
        }

        if (!rest.StartsWith(generationMark, StringComparison.Ordinal))
        {
            return null;
        }

        var digits = rest[generationMark.Length..];
        return digits.Length is > 0 and <= 10 && digits[0] != '0' && !digits.ContainsAnyExceptInRange('0', '9')
            && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var generation)
            ? new BindingGeneration(bindingId, generation)
            : null;
    }

    /// <summary>The generations found, by binding: <see cref="Observation.Bindings"/>.</summary>
    public static IReadOnlyDictionary<Guid, IReadOnlySet<int>> Generations(IEnumerable<BindingGeneration?> found) =>
        found.OfType<BindingGeneration>()
            .GroupBy(g => g.BindingId)
            .ToDictionary(g => g.Key, g => (IReadOnlySet<int>)g.Select(b => b.Generation).ToHashSet());
}
