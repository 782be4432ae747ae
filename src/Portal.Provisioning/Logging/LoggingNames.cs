using System.Globalization;
using System.Text.RegularExpressions;

namespace Portal.Provisioning.Logging;

/// <summary>
/// Names of a log stream on the collector. They derive from ids only (never from user text or message
/// content) and use only <c>[a-z0-9-]</c>, so rsyslog can put a stream name into a file path unescaped.
/// </summary>
public static partial class LoggingNames
{
    /// <summary>
    /// The RFC 5424 SD-ID apps put their token under: <c>portal@32473</c>. 32473 is the private enterprise
    /// number RFC 5612 reserves for documentation; a deployment with its own number changes this and the
    /// collector's config (<c>ops/backends/logging</c>) together. rsyslog lower-cases SD-IDs, so it stays lower-case.
    /// </summary>
    public const string SdId = "portal@32473";

    /// <summary>The SD parameter holding the token.</summary>
    public const string TokenParameter = "token";

    /// <summary>The MSGID of the driver's own probe messages; the collector drops those it cannot route.</summary>
    public const string ProbeMsgId = "portal-probe";

    /// <summary>The folder under the log directory holding messages without a valid token.</summary>
    public const string QuarantineFolder = "_quarantine";

    /// <summary>The folder under the log directory where the driver's probes land.</summary>
    public const string ProbeFolder = "_probe";

    /// <summary>The instance's stream, <c>ls-&lt;id&gt;</c>: the lookup table's value and its folder's name.</summary>
    public static string Stream(Guid instanceId) => $"ls-{instanceId:N}";

    /// <summary>
    /// The key of one credential generation's token in its stream's record: <c>lb-&lt;id&gt;</c> for generation 0
    /// (the name bindings had before rotation), <c>lb-&lt;id&gt;-g&lt;n&gt;</c> for a rotation's generation n.
    /// </summary>
    public static string BindingKey(Guid bindingId, int generation = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(generation);
        return generation == 0
            ? $"lb-{bindingId:N}"
            : $"lb-{bindingId:N}-g{generation.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>The binding and generation of a key <see cref="BindingKey"/> makes; null for any other name.</summary>
    public static BindingGeneration? ParseBindingKey(string key) => BindingNames.Parse(key, "lb-", "-g");

    /// <summary>True for a key <see cref="BindingKey"/> makes for <paramref name="bindingId"/>, whatever its generation.</summary>
    public static bool IsKeyOfBinding(string key, Guid bindingId)
    {
        var root = BindingKey(bindingId);
        return IsBindingKey(key) && (key == root || key.StartsWith(root + "-g", StringComparison.Ordinal));
    }

    /// <summary>True for a name <see cref="Stream"/> makes.</summary>
    public static bool IsStream(string name) => StreamPattern().IsMatch(name);

    /// <summary>True for a name <see cref="BindingKey"/> makes.</summary>
    public static bool IsBindingKey(string name) => BindingKeyPattern().IsMatch(name);

    /// <summary>
    /// The structured-data element an app sends with every message, e.g.
    /// <c>[portal@32473 token="…"]</c>.
    /// </summary>
    public static string StructuredData(string token) => $"[{SdId} {TokenParameter}=\"{Rfc5424.EscapeParamValue(token)}\"]";

    [GeneratedRegex("^ls-[0-9a-f]{32}$", RegexOptions.CultureInvariant)]
    private static partial Regex StreamPattern();

    // Generation 0 has no suffix; others carry a number without leading zeros, so each generation has one key.
    [GeneratedRegex("^lb-[0-9a-f]{32}(-g[1-9][0-9]{0,9})?$", RegexOptions.CultureInvariant)]
    private static partial Regex BindingKeyPattern();
}
