using System.Net;
using System.Net.Sockets;

namespace Portal.Domain.Egress;

/// <summary>
/// A platform admin's exception to the egress policy: a network (CIDR, or one address) or a host name that user-given
/// URLs may reach although the policy denies it — for the portal's own webhooks and every backend, for one site's
/// backends, or for one backend.
/// </summary>
public sealed class EgressAllowEntry
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    /// <summary>A CIDR in canonical form (<c>10.20.0.0/16</c>, <c>127.0.0.1/32</c>) or a lowercase host name.</summary>
    public required string Target { get; init; }

    /// <summary>Only for the backends of this site; null: any site.</summary>
    public string? Site { get; init; }

    /// <summary>Only for this backend; null: any backend.</summary>
    public Guid? BackendId { get; init; }

    /// <summary>Why it is allowed, for the next admin.</summary>
    public string? Note { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public required string CreatedBy { get; init; }

    /// <summary>Whether the entry holds for URLs whose connections come from <paramref name="scope"/>.</summary>
    public bool AppliesTo(EgressScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return (Site is null || Site == scope.Site) && (BackendId is null || BackendId == scope.BackendId);
    }

    /// <summary>The entry's network, or null for a host name entry.</summary>
    public IPNetwork? Network => IPNetwork.TryParse(Target, out var network) ? network : null;

    /// <summary>
    /// Reads what an admin typed as a target: a CIDR, a single address (becomes /32 or /128) or a host name. Returns why
    /// it is refused, or null with the canonical form in <paramref name="target"/>.
    /// </summary>
    public static string? NormalizeTarget(string? text, out string target)
    {
        target = "";
        text = text?.Trim() ?? "";
        if (text.Length is 0 or > 253)
        {
            return "Give a CIDR (10.20.0.0/16), an IP address or a host name.";
        }

        if (text.Contains('/', StringComparison.Ordinal))
        {
            if (!IPNetwork.TryParse(text, out var network) || !IsNetworkStart(text, network.PrefixLength))
            {
                return $"'{text}' is not a CIDR: write the network's first address and a prefix length, e.g. 10.20.0.0/16.";
            }

            // A mapped IPv4 network would never match: connections are compared in their IPv4 form.
            if (network.BaseAddress.IsIPv4MappedToIPv6)
            {
                return "Write IPv4 networks in IPv4 form, e.g. 10.20.0.0/16.";
            }

            if (network.PrefixLength == 0)
            {
                return "A /0 network would switch the egress policy off; allow the networks that are needed.";
            }

            target = network.ToString();
            return null;
        }

        if (IPAddress.TryParse(text, out var address) && (address.AddressFamily == AddressFamily.InterNetworkV6 || address.ToString() == text))
        {
            address = EgressAddress.Canonical(address);
            target = new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128).ToString();
            return null;
        }

        if (!EgressUrl.IsCanonicalHost(text))
        {
            return $"'{text}' is not a CIDR, an IP address in its usual spelling, or a host name.";
        }

        target = text.TrimEnd('.').ToLowerInvariant();
        return null;
    }

    /// <summary>Whether the base address has no bits past the prefix (10.20.0.0/16, not 10.20.1.0/16).</summary>
    private static bool IsNetworkStart(string cidr, int prefixLength)
    {
        // IPNetwork.TryParse masks the host bits away silently; an admin who wrote them likely meant another network.
        if (!IPAddress.TryParse(cidr[..cidr.IndexOf('/', StringComparison.Ordinal)], out var written))
        {
            return false;
        }

        var bytes = written.GetAddressBytes();
        for (var bit = prefixLength; bit < bytes.Length * 8; bit++)
        {
            if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Where a connection to a user-given URL comes from: the portal itself (webhooks), or a backend at a site.</summary>
public sealed record EgressScope(string? Site, Guid? BackendId)
{
    /// <summary>The portal's own connections (webhook deliveries): only entries for every site and backend hold.</summary>
    public static readonly EgressScope Portal = new(null, null);
}
