using System.Globalization;
using System.Text;

namespace Portal.Provisioning.Logging;

/// <summary>
/// Writes RFC 5424 syslog messages and their RFC 6587 octet-counted TCP frames: what the driver's probes
/// send, and a reference for app senders.
/// </summary>
public static class Rfc5424
{
    /// <summary>The RFC 5424 NILVALUE for an unknown header field.</summary>
    public const string Nil = "-";

    /// <summary>
    /// Escapes an SD-PARAM value: RFC 5424 §6.3.3 requires <c>"</c>, <c>\</c> and <c>]</c> to be preceded by a backslash.
    /// </summary>
    public static string EscapeParamValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            if (c is '"' or '\\' or ']')
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    /// <summary>
    /// One message: <c>&lt;PRI&gt;1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG</c>. Header fields
    /// must be printable ASCII without spaces (RFC 5424 §6); empty ones become <see cref="Nil"/>.
    /// </summary>
    /// <param name="severity">0 (emergency) to 7 (debug); 6 is informational.</param>
    /// <param name="facility">0 to 23; 1 is user-level, 16-23 are local0-local7.</param>
    public static string Format(
        DateTimeOffset timestamp, string host, string app, string msgId, string structuredData, string message,
        int severity = 6, int facility = 1, string procId = Nil)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(severity);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(severity, 7);
        ArgumentOutOfRangeException.ThrowIfNegative(facility);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(facility, 23);
        var pri = (facility * 8 + severity).ToString(CultureInfo.InvariantCulture);
        // At most 6 fractional digits (§6.2.3), always UTC.
        var time = timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        return $"<{pri}>1 {time} {Header(host, 255)} {Header(app, 48)} {Header(procId, 128)} {Header(msgId, 32)} " +
            $"{(string.IsNullOrEmpty(structuredData) ? Nil : structuredData)} {message}";
    }

    /// <summary>The octet-counted frame of one message (RFC 6587 §3.4.1): <c>LENGTH SP MESSAGE</c>, length in UTF-8 bytes.</summary>
    public static byte[] Frame(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var body = Encoding.UTF8.GetBytes(message);
        var prefix = Encoding.ASCII.GetBytes(body.Length.ToString(CultureInfo.InvariantCulture) + " ");
        return [.. prefix, .. body];
    }

    private static string Header(string value, int maxLength)
    {
        if (string.IsNullOrEmpty(value))
        {
            return Nil;
        }

        if (value.Length > maxLength || value.Any(c => c is <= ' ' or > '~'))
        {
            throw new ArgumentException(
                $"An RFC 5424 header field is printable ASCII without spaces, at most {maxLength} characters: '{value}'.",
                nameof(value));
        }

        return value;
    }
}
