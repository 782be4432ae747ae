using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Portal.Provisioning.Logging;

/// <summary>
/// What the driver knows about one stream, kept as <c>&lt;configDir&gt;/streams/&lt;stream&gt;.json</c>: the
/// stream exists while its record does, and <see cref="Tokens"/> maps each binding key
/// (<see cref="LoggingNames.BindingKey"/>, one per credential generation of a binding) to its token. The records
/// are the source of truth; <see cref="TokenTable"/> renders rsyslog's lookup table from all of them.
/// </summary>
public sealed record StreamRecord(
    [property: JsonPropertyName("instanceId")] Guid InstanceId,
    [property: JsonPropertyName("stream")] string Stream,
    [property: JsonPropertyName("tokens")] IReadOnlyDictionary<string, string> Tokens)
{
    /// <summary>A new record with no tokens.</summary>
    public static StreamRecord For(Guid instanceId) =>
        new(instanceId, LoggingNames.Stream(instanceId), new Dictionary<string, string>());

    /// <summary>A copy with the binding's token set (a new one replaces the old).</summary>
    public StreamRecord WithToken(string bindingKey, string token) =>
        this with { Tokens = new Dictionary<string, string>(Tokens, StringComparer.Ordinal) { [bindingKey] = token } };

    /// <summary>A copy without the token under <paramref name="bindingKey"/> (one generation of a binding).</summary>
    public StreamRecord WithoutToken(string bindingKey) => WithoutTokens(key => key == bindingKey);

    /// <summary>A copy without the tokens whose keys match, e.g. every generation of one binding.</summary>
    public StreamRecord WithoutTokens(Func<string, bool> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var tokens = Tokens.Where(t => !keys(t.Key)).ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
        return this with { Tokens = tokens };
    }

    // Never print the tokens.
    public override string ToString() => $"StreamRecord({Stream}, {Tokens.Count} token(s))";
}

/// <summary>
/// rsyslog's lookup table (<c>tokens.json</c>): token → stream name, plus one probe entry whose value
/// (<c>probe-&lt;nonce&gt;</c>) changes with every table, so a probe that lands proves this table is live.
/// </summary>
public static partial class TokenTable
{
    /// <summary>The file name of the table in the config directory.</summary>
    public const string FileName = "tokens.json";

    /// <summary>The prefix of the probe entry's value; the collector routes such values to the probe folder.</summary>
    public const string ProbePrefix = "probe-";

    private static readonly JsonSerializerOptions RecordJson = new() { WriteIndented = true };

    /// <summary>
    /// The table's JSON: every record's tokens and the probe entry, sorted so equal input gives equal
    /// text. Refuses a record whose stream name or tokens the driver could not have made, because a
    /// stream name becomes a path on the collector.
    /// </summary>
    public static string Render(IEnumerable<StreamRecord> records, string probeToken, string probeValue)
    {
        ArgumentNullException.ThrowIfNull(records);
        Validate(probeToken, probeValue);
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal) { [probeToken] = probeValue };
        foreach (var record in records)
        {
            if (!LoggingNames.IsStream(record.Stream) || record.Stream != LoggingNames.Stream(record.InstanceId))
            {
                throw new InvalidDataException($"The stream record '{record.Stream}' does not name its instance's stream.");
            }

            foreach (var (binding, token) in record.Tokens)
            {
                if (!LoggingNames.IsBindingKey(binding) || !IsToken(token))
                {
                    throw new InvalidDataException($"The stream record {record.Stream} has a malformed entry for '{binding}'.");
                }

                if (!entries.TryAdd(token, record.Stream))
                {
                    throw new InvalidDataException($"The stream record {record.Stream} repeats a token of another binding.");
                }
            }
        }

        var table = new
        {
            version = 1,
            nomatch = "",
            type = "string",
            table = entries.Select(e => new { index = e.Key, value = e.Value }),
        };
        return JsonSerializer.Serialize(table) + "\n";
    }

    /// <summary>Reads a table rendered by <see cref="Render"/> (or by the start script): token → value.</summary>
    public static IReadOnlyDictionary<string, string> Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in document.RootElement.GetProperty("table").EnumerateArray())
        {
            result[entry.GetProperty("index").GetString() ?? ""] = entry.GetProperty("value").GetString() ?? "";
        }

        return result;
    }

    /// <summary>True for a token the driver could have made: alphanumeric, at least 22 characters (128 bits).</summary>
    public static bool IsToken(string token) => TokenPattern().IsMatch(token);

    /// <summary>Serializes a record for its file.</summary>
    public static string SerializeRecord(StreamRecord record) => JsonSerializer.Serialize(record, RecordJson) + "\n";

    /// <summary>Reads a record file's text; null when it is not a record.</summary>
    public static StreamRecord? DeserializeRecord(string json)
    {
        var record = JsonSerializer.Deserialize<StreamRecord>(json);
        return record is { Stream: not null, Tokens: not null } ? record : null;
    }

    private static void Validate(string probeToken, string probeValue)
    {
        if (!IsToken(probeToken) || !ProbeValuePattern().IsMatch(probeValue))
        {
            throw new ArgumentException("The probe entry must be a driver-made token and probe-<nonce>.");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9]{22,128}$", RegexOptions.CultureInvariant)]
    private static partial Regex TokenPattern();

    [GeneratedRegex("^probe-[a-z0-9]{16,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex ProbeValuePattern();
}
