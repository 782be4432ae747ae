using Portal.Application.Common;

namespace Portal.Application.Catalog;

/// <summary>Reads plan limits written as <c>connections=20, queues=10</c>.</summary>
public static class PlanLimitsText
{
    /// <exception cref="ValidationException">A part is not <c>name=number</c>.</exception>
    public static Dictionary<string, int> Parse(string? text)
    {
        var limits = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var part in (text ?? "").Split([',', ';', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pair = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pair.Length != 2 || pair[0].Length == 0 ||
                !int.TryParse(pair[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value))
            {
                throw ValidationException.For("limits", $"Write limits as name=number, separated by commas; '{part}' is not.");
            }

            limits[pair[0]] = value;
        }

        return limits;
    }
}
