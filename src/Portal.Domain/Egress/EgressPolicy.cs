using System.Net;
using System.Net.Sockets;

namespace Portal.Domain.Egress;

/// <summary>
/// The one egress policy for URLs users give Portal (monitoring targets, alert webhooks, team and platform webhooks):
/// default deny for addresses inside the platform (<see cref="EgressAddress"/>) and for the portal's and its backends'
/// own addresses, unless a platform admin's <see cref="EgressAllowEntry"/> allows them.
/// </summary>
public static class EgressPolicy
{
    /// <summary>The advice every refusal ends with.</summary>
    public const string Advice = "ask a platform admin to allow it";

    /// <summary>
    /// Judges a connection to <paramref name="host"/> at <paramref name="addresses"/> (every address it resolved to: each
    /// one must be allowed, since a client may pick any). Returns why it is refused, or null when it is allowed.
    /// </summary>
    /// <param name="host">The URL's host (a name or an IP literal), as <see cref="EgressUrl.Host"/>.</param>
    /// <param name="addresses">What the host resolves to now.</param>
    /// <param name="allowed">The allow entries that hold where the connection comes from.</param>
    /// <param name="protectedAddresses">The portal's and its backends' addresses, each with what it is.</param>
    public static string? Judge(
        string host, IReadOnlyList<IPAddress> addresses, IReadOnlyList<EgressAllowEntry> allowed,
        IReadOnlyDictionary<IPAddress, string> protectedAddresses)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(addresses);
        ArgumentNullException.ThrowIfNull(allowed);
        ArgumentNullException.ThrowIfNull(protectedAddresses);
        var name = host.TrimEnd('.').ToLowerInvariant();
        if (allowed.Any(e => e.Target == name))
        {
            return null; // The admin allowed the name itself, whatever it resolves to.
        }

        if (addresses.Count == 0)
        {
            return $"{host} does not resolve to an address; egress is checked against the addresses a host resolves to.";
        }

        var isLiteral = IPAddress.TryParse(host.Trim('[', ']'), out _);
        foreach (var raw in addresses)
        {
            var address = EgressAddress.Canonical(raw);
            var who = isLiteral ? $"{address}" : $"{host} resolves to {address}, which";
            var networks = allowed.Select(e => e.Network).OfType<IPNetwork>().ToList();

            if (EgressAddress.Classify(address) is { } range && !networks.Any(n => n.Contains(address) || Contains(n, EgressAddress.EmbeddedIPv4(address))))
            {
                return $"{who} is {Article(range.Name)} {range.Name} address; egress to {range.Name} addresses is denied ({Advice}).";
            }

            // The portal and its backends are denied even inside an allowed network; only the exact address opens them.
            if (protectedAddresses.TryGetValue(address, out var what) && !networks.Any(n => IsSingle(n) && n.Contains(address)))
            {
                return $"{who} is {what}; egress to the portal and its backends is denied ({Advice}, for that exact address).";
            }
        }

        return null;
    }

    private static bool Contains(IPNetwork network, IPAddress? address) => address is not null && network.Contains(address);

    private static bool IsSingle(IPNetwork network) =>
        network.PrefixLength == (network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);

    private static string Article(string word) =>
        word.Length > 0 && "aeiou".Contains(word[0], StringComparison.Ordinal) && !word.StartsWith("uni", StringComparison.Ordinal) ? "an" : "a";
}
