using System.Net;
using System.Net.Sockets;

namespace Portal.Domain.Egress;

/// <summary>A range of addresses the egress policy denies unless an admin allows it.</summary>
/// <param name="Name">What the range is, as the refusal says it, e.g. <c>loopback</c>.</param>
/// <param name="Network">The range, e.g. <c>127.0.0.0/8</c>.</param>
public sealed record DeniedRange(string Name, IPNetwork Network);

/// <summary>
/// Reads an IP address the way a connecting client does and tells which denied range holds it: loopback, link-local,
/// private, shared (CGNAT), unique-local, multicast, unspecified and reserved addresses, also when written as an IPv6
/// address that carries an IPv4 one (mapped, compatible, NAT64, 6to4), since a dual-stack socket reaches the IPv4 host.
/// </summary>
public static class EgressAddress
{
    private static readonly DeniedRange[] V4Ranges =
    [
        new("unspecified", IPNetwork.Parse("0.0.0.0/8")),
        new("loopback", IPNetwork.Parse("127.0.0.0/8")),
        new("private", IPNetwork.Parse("10.0.0.0/8")),
        new("private", IPNetwork.Parse("172.16.0.0/12")),
        new("private", IPNetwork.Parse("192.168.0.0/16")),
        new("shared (CGNAT)", IPNetwork.Parse("100.64.0.0/10")),
        new("link-local", IPNetwork.Parse("169.254.0.0/16")),
        new("reserved", IPNetwork.Parse("192.0.0.0/24")),
        new("reserved", IPNetwork.Parse("198.18.0.0/15")),
        new("multicast", IPNetwork.Parse("224.0.0.0/4")),
        new("reserved", IPNetwork.Parse("240.0.0.0/4")), // 255.255.255.255 (broadcast) included
    ];

    private static readonly DeniedRange[] V6Ranges =
    [
        new("unspecified", IPNetwork.Parse("::/128")),
        new("loopback", IPNetwork.Parse("::1/128")),
        new("link-local", IPNetwork.Parse("fe80::/10")),
        new("site-local", IPNetwork.Parse("fec0::/10")),
        new("unique-local", IPNetwork.Parse("fc00::/7")),
        new("multicast", IPNetwork.Parse("ff00::/8")),
        new("private (NAT64 local use)", IPNetwork.Parse("64:ff9b:1::/48")),
        new("reserved (Teredo)", IPNetwork.Parse("2001::/32")),
    ];

    private static readonly IPNetwork Compatible = IPNetwork.Parse("::/96");
    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    /// <summary>The denied range that holds the address, or null for an address on the public internet.</summary>
    public static DeniedRange? Classify(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return V4Ranges.FirstOrDefault(r => r.Network.Contains(address));
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return Classify(address.MapToIPv4()); // the same host, written as IPv6
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return new DeniedRange("not an IP", IPNetwork.Parse("::/0"));
        }

        if (V6Ranges.FirstOrDefault(r => r.Network.Contains(address)) is { } v6)
        {
            return v6;
        }

        // An IPv4 address inside an IPv6 one reaches the IPv4 host; judge that host.
        return EmbeddedIPv4(address) is { } v4 ? Classify(v4) is { } inner ? inner with { Name = inner.Name + " (in IPv6)" } : null : null;
    }

    /// <summary>
    /// The IPv4 address a connection to this address reaches: itself for IPv4, the embedded one for IPv4-mapped
    /// (<c>::ffff:a.b.c.d</c>), IPv4-compatible (<c>::a.b.c.d</c>), NAT64 (<c>64:ff9b::a.b.c.d</c>) and 6to4
    /// (<c>2002:aabb:ccdd::</c>) addresses; null for other IPv6 addresses.
    /// </summary>
    public static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return address;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        var bytes = address.GetAddressBytes();
        if (Compatible.Contains(address) || Nat64.Contains(address))
        {
            return new IPAddress(bytes[12..16]);
        }

        return SixToFour.Contains(address) ? new IPAddress(bytes[2..6]) : null;
    }

    /// <summary>The address a socket reaches, in one form for comparisons: IPv4-mapped IPv6 as IPv4.</summary>
    public static IPAddress Canonical(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }
}
