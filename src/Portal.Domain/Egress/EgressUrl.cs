using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Portal.Domain.Egress;

/// <summary>
/// A URL a user gave Portal that Portal or a backend will connect to, read strictly: http or https, no user info, and
/// a host that is a DNS name or an IP literal in its one canonical spelling. Anything else is refused rather than
/// interpreted, because URL parsers, resolvers and HTTP clients read odd spellings differently (<c>2130706433</c>,
/// <c>0x7f.1</c>, <c>127.1</c> and <c>0177.0.0.1</c> are all 127.0.0.1 to inet_aton and to .NET's <see cref="Uri"/>).
/// </summary>
/// <param name="Scheme"><c>http</c> or <c>https</c>.</param>
/// <param name="Host">The host in lowercase; an IPv6 literal without brackets.</param>
/// <param name="Port">The port, the scheme's default when none is written.</param>
/// <param name="Address">The address when the host is an IP literal; null for a DNS name.</param>
public sealed record EgressUrl(string Scheme, string Host, int Port, IPAddress? Address)
{
    /// <summary>
    /// Reads a URL; returns why it is refused, or null with <paramref name="url"/> set. The reasons name the rule, so a
    /// form can show them as they are.
    /// </summary>
    public static string? TryParse(string? text, out EgressUrl? url)
    {
        url = null;
        if (string.IsNullOrEmpty(text))
        {
            return "Give an absolute http(s) URL.";
        }

        // Backslashes are path separators to some parsers (WHATWG, .NET) and not to others: refuse them with spaces.
        if (text.Any(c => c <= ' ' || c >= '\u007f' || c == '\\'))
        {
            return "URLs may not contain spaces, control characters, backslashes or non-ASCII characters (write IDN hosts in punycode).";
        }

        var schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        var scheme = schemeEnd > 0 ? text[..schemeEnd].ToLowerInvariant() : "";
        if (scheme is not ("http" or "https"))
        {
            return "Only http and https URLs are allowed.";
        }

        var rest = text[(schemeEnd + 3)..];
        var authorityEnd = rest.IndexOfAny(['/', '?', '#']);
        var authority = authorityEnd < 0 ? rest : rest[..authorityEnd];
        if (authority.Contains('@', StringComparison.Ordinal))
        {
            return "User info (user@host) is not allowed in URLs.";
        }

        if (SplitHostPort(authority, out var host, out var portText) is { } splitError)
        {
            return splitError;
        }

        var port = scheme == "https" ? 443 : 80;
        if (portText is not null
            && (portText.Length is 0 or > 5 || !portText.All(char.IsAsciiDigit)
                || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            return "The port must be a number from 1 to 65535.";
        }

        if (ReadHost(host, out var address) is { } hostError)
        {
            return hostError;
        }

        // What .NET's Uri (and so HttpClient) reads must be what was read here.
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || !SameHost(uri, host, address) || uri.Port != port)
        {
            return "The URL is not well-formed.";
        }

        url = new EgressUrl(scheme, host.ToLowerInvariant(), port, address);
        return null;
    }

    /// <summary>Whether a host is a DNS name or a canonical IP literal (no brackets), the hosts <see cref="TryParse"/> takes.</summary>
    public static bool IsCanonicalHost(string host) => ReadHost(host, out _) is null;

    private static string? SplitHostPort(string authority, out string host, out string? port)
    {
        host = authority;
        port = null;
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return "The IPv6 address is missing its closing bracket.";
            }

            host = authority[..(close + 1)];
            var after = authority[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    return "The URL is not well-formed.";
                }

                port = after[1..];
            }

            return null;
        }

        var colon = authority.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            host = authority[..colon];
            port = authority[(colon + 1)..];
        }

        return null;
    }

    private static string? ReadHost(string host, out IPAddress? address)
    {
        address = null;
        if (host.Length == 0)
        {
            return "The URL has no host.";
        }

        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            var literal = host[1..^1];
            if (literal.Contains('%', StringComparison.Ordinal) || !IPAddress.TryParse(literal, out var v6)
                                                             || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                return $"'{host}' is not an IPv6 address (zone ids are not allowed).";
            }

            address = v6;
            return null;
        }

        var labels = host.TrimEnd('.').Split('.');
        if (IsNumeric(labels[^1]))
        {
            // A host whose last label is a number is an IPv4 address to a browser or a resolver, in whatever base.
            if (IPAddress.TryParse(host, out var v4) && v4.AddressFamily == AddressFamily.InterNetwork
                                                    && v4.ToString() == host)
            {
                address = v4;
                return null;
            }

            var readAs = Uri.TryCreate($"http://{host}/", UriKind.Absolute, out var uri) && uri.HostNameType == UriHostNameType.IPv4
                ? $" (clients read it as {uri.Host})"
                : "";
            return $"'{Shorten(host)}' is not an IPv4 address in its usual spelling{readAs}; write IPv4 addresses as four decimal numbers, e.g. 192.0.2.10.";
        }

        if (host.Length > 253 || !labels.All(IsDnsLabel))
        {
            return $"'{Shorten(host)}' is not a valid DNS name or IP address.";
        }

        return null;
    }

    private static bool SameHost(Uri uri, string host, IPAddress? address) =>
        address is not null
            ? IPAddress.TryParse(uri.Host.Trim('[', ']'), out var read) && read.Equals(address)
            : string.Equals(uri.IdnHost.TrimEnd('.'), host.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);

    /// <summary>Decimal digits, or <c>0x</c> and hex digits: what WHATWG's host parser takes as an IPv4 number.</summary>
    private static bool IsNumeric(string label) =>
        (label.Length > 0 && label.All(char.IsAsciiDigit))
        || (label.Length >= 2 && label[0] == '0' && label[1] is 'x' or 'X' && label[2..].All(char.IsAsciiHexDigit));

    private static bool IsDnsLabel(string label) =>
        label.Length is >= 1 and <= 63 && label[0] != '-' && label[^1] != '-' && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "…";
}
