using System.Collections;
using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace Portal.Application.Common;

/// <summary>
/// How long a string field may be and whether it may span lines; without it a field is a one-line name
/// of at most <see cref="InputRules.NameLength"/> characters. Put it on the record's parameter; on a list or
/// dictionary it applies to the items (values).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
public sealed class TextAttribute(int maxLength) : Attribute
{
    public int MaxLength { get; } = maxLength;

    /// <summary>Line breaks and tabs allowed (descriptions, comments, PEM); other control characters never.</summary>
    public bool MultiLine { get; init; }

    /// <summary>Only characters that are safe in a URL, a user name or a host setting: no spaces, quotes, &lt;&gt;, $ ` ; | \ { }.</summary>
    public bool Plain { get; init; }
}

/// <summary>
/// The one set of input rules every request passes, from the API (an endpoint filter walks each body and query
/// string) and from the pages (the handlers walk their request): no control characters (C0 with NUL, DEL, C1),
/// no bidirectional overrides or isolates, no lone surrogates, a length limit on every string, ranges on numbers
/// (<see cref="RangeAttribute"/>), names of defined enum values, required (non-nullable) fields present and at
/// most <see cref="MaxItems"/> items in a list.
/// </summary>
public static class InputRules
{
    public const int NameLength = 100;
    public const int DescriptionLength = 1000;
    public const int UrlLength = 2000;
    public const int PemLength = 64 * 1024;
    public const int MaxItems = 100;

    private static readonly ConcurrentDictionary<Type, FieldRule[]> Fields = new();

    /// <summary>What is wrong with the text, or null when it passes.</summary>
    public static string? TextProblem(string value, int maxLength = NameLength, bool multiLine = false, bool plain = false)
    {
        if (value.Length > maxLength)
        {
            return $"At most {maxLength} characters.";
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
                continue;
            }

            if (char.IsSurrogate(c))
            {
                return "Contains a broken character (a lone UTF-16 surrogate).";
            }

            if (multiLine && c is '\n' or '\r' or '\t')
            {
                continue;
            }

            if (char.IsControl(c))
            {
                return $"Contains a control character (U+{(int)c:X4}); {(multiLine ? "only line breaks and tabs are allowed" : "it must be one line of text")}.";
            }

            if (IsBidiControl(c))
            {
                return $"Contains a text-direction override (U+{(int)c:X4}).";
            }

            if (plain && (char.IsWhiteSpace(c) || c > '~' || "<>\"'`$;|\\{}".Contains(c, StringComparison.Ordinal)))
            {
                return "Only letters, digits and URL punctuation: no spaces, quotes, < > $ ` ; | \\ { }.";
            }
        }

        return null;
    }

    /// <summary>
    /// Text someone else gave, made safe to record (e.g. the name a refused sign-in tried): control characters, text-direction
    /// overrides and broken characters become U+FFFD, and it is cut to <paramref name="maxLength"/>.
    /// </summary>
    public static string Recordable(string value, int maxLength)
    {
        var text = value.Length > maxLength ? value[..maxLength] : value;
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1]))
            {
                i++;
            }
            else if (char.IsControl(chars[i]) || IsBidiControl(chars[i]) || char.IsSurrogate(chars[i]))
            {
                chars[i] = '\uFFFD';
            }
        }

        return new string(chars);
    }

    /// <summary>U+202A–U+202E (embeddings, overrides) and U+2066–U+2069 (isolates): they make text read differently than it is.</summary>
    public static bool IsBidiControl(char c) => c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069';

    /// <summary>Checks one string against the rules; null is left to the caller's own "required" check.</summary>
    public static Validator Text(this Validator v, string? value, string field, int maxLength = NameLength, bool multiLine = false, bool plain = false)
    {
        var problem = value is null ? null : TextProblem(value, maxLength, multiLine, plain);
        return v.Require(problem is null, field, problem!);
    }

    /// <summary>Walks a request (a record, a list of them, a dictionary) and checks every field against the rules.</summary>
    /// <param name="prefix">The field name of the request itself, e.g. <c>rules</c> for a list; empty for an object.</param>
    public static Validator Input(this Validator v, object? request, string prefix = "")
    {
        if (request is null)
        {
            return v.Require(false, prefix.Length == 0 ? "body" : prefix, "Required.");
        }

        Walk(v, request, prefix, null, depth: 0);
        return v;
    }

    /// <summary>Throws a <see cref="ValidationException"/> naming each field that breaks the rules.</summary>
    public static void Check(object? request, string prefix = "") => new Validator().Input(request, prefix).ThrowIfInvalid();

    private static void Walk(Validator v, object value, string field, FieldRule? rule, int depth)
    {
        if (depth > 8)
        {
            v.Require(false, field, "Nested too deeply.");
            return;
        }

        switch (value)
        {
            case string s:
                v.Text(s, Name(field), rule?.Text?.MaxLength ?? NameLength, rule?.Text?.MultiLine ?? false, rule?.Text?.Plain ?? false);
                return;
            case Enum e:
                v.Require(Enum.IsDefined(e.GetType(), e), Name(field), $"Must be one of: {string.Join(", ", Enum.GetNames(e.GetType()))}.");
                return;
            case IConvertible number when value is not bool and not char and not DateTime:
                if (rule?.Range is { } range)
                {
                    v.Require(range.IsValid(number), Name(field),
                        string.Create(CultureInfo.InvariantCulture, $"Must be between {range.Minimum} and {range.Maximum}."));
                }

                return;
            case IDictionary dictionary:
                v.Require(dictionary.Count <= MaxItems, Name(field), $"At most {MaxItems} entries.");
                foreach (DictionaryEntry entry in dictionary)
                {
                    var key = entry.Key as string ?? Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? "";
                    var keyProblem = TextProblem(key, NameLength);
                    v.Require(keyProblem is null, Name(field), $"A key: {keyProblem}");
                    var at = keyProblem is null ? $"{field}.{key}" : field;
                    if (entry.Value is null)
                    {
                        v.Require(rule?.ItemsNullable ?? false, Name(at), "Required.");
                    }
                    else
                    {
                        Walk(v, entry.Value, at, rule, depth + 1);
                    }
                }

                return;
            case IEnumerable items:
                var i = 0;
                foreach (var item in items)
                {
                    if (i == MaxItems)
                    {
                        v.Require(false, Name(field), $"At most {MaxItems} items.");
                        break;
                    }

                    if (item is null)
                    {
                        v.Require(rule?.ItemsNullable ?? false, $"{Name(field)}[{i}]", "Required.");
                    }
                    else
                    {
                        Walk(v, item, $"{Name(field)}[{i}]", rule, depth + 1);
                    }

                    i++;
                }

                return;
        }

        // Records of the portal's own requests; anything else (Guid, DateTimeOffset, bool) holds no text to check.
        if (value.GetType().Namespace?.StartsWith("Portal.", StringComparison.Ordinal) != true)
        {
            return;
        }

        foreach (var f in Fields.GetOrAdd(value.GetType(), FieldRulesOf))
        {
            var at = field.Length == 0 ? f.Name : $"{field}.{f.Name}";
            var fieldValue = f.Property.GetValue(value);
            if (fieldValue is null)
            {
                v.Require(f.Nullable, at, "Required.");
            }
            else
            {
                Walk(v, fieldValue, at, f, depth + 1);
            }
        }
    }

    private static string Name(string field) => field.Length == 0 ? "body" : field;

    private static FieldRule[] FieldRulesOf(Type type)
    {
        var nullability = new NullabilityInfoContext();
        // Positional records carry the attributes on the constructor's parameters.
        var parameters = type.GetConstructors().SelectMany(c => c.GetParameters())
            .GroupBy(p => p.Name ?? "", StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        return type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0 && p.GetCustomAttribute<System.Text.Json.Serialization.JsonIgnoreAttribute>() is null)
            .Select(p =>
            {
                var parameter = parameters.GetValueOrDefault(p.Name);
                var info = nullability.Create(p);
                var item = info.ElementType ?? (info.GenericTypeArguments.Length > 0 ? info.GenericTypeArguments[^1] : null);
                return new FieldRule(
                    p,
                    JsonNamingPolicy.CamelCase.ConvertName(p.Name),
                    info.ReadState != NullabilityState.NotNull,
                    item is not null && item.ReadState != NullabilityState.NotNull,
                    p.GetCustomAttribute<TextAttribute>() ?? parameter?.GetCustomAttribute<TextAttribute>(),
                    p.GetCustomAttribute<RangeAttribute>() ?? parameter?.GetCustomAttribute<RangeAttribute>());
            })
            .ToArray();
    }

    private sealed record FieldRule(PropertyInfo Property, string Name, bool Nullable, bool ItemsNullable, TextAttribute? Text, RangeAttribute? Range);
}
