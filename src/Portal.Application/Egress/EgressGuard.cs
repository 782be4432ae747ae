using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Egress;

namespace Portal.Application.Egress;

/// <summary>
/// Applies the egress policy (<see cref="EgressPolicy"/>) with what it needs from outside: the admins' allow list, the
/// portal's and its backends' addresses, and DNS. Used when a URL is accepted (<see cref="RequireAllowedAsync"/>), before
/// a backend is told to connect to one (each apply and reconcile), and by the webhook client when it connects
/// (<see cref="ResolveAllowedAsync"/>, against DNS rebinding).
/// </summary>
public sealed class EgressGuard(IDbContextFactory<PortalDbContext> dbFactory)
{
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Refuses, as Problem Details naming each field, every URL the policy denies; nothing is changed.</summary>
    public async Task RequireAllowedAsync(IEnumerable<(string Field, string Url)> urls, EgressScope scope, CancellationToken ct)
    {
        var list = urls.ToList();
        if (list.Count == 0)
        {
            return;
        }

        var validator = new Validator();
        var rules = await RulesAsync(scope, ct);
        foreach (var (field, url) in list)
        {
            var refusal = await CheckAsync(url, rules, ct);
            validator.Require(refusal is null, field, $"{url}: {refusal}");
        }

        validator.ThrowIfInvalid();
    }

    /// <summary>
    /// Before a backend is told to connect to user-given URLs (each apply): throws <see cref="EgressDeniedException"/>
    /// naming the first URL the policy denies now — an allow entry may have gone, or a name may resolve elsewhere.
    /// </summary>
    public async Task EnsureAllowedAsync(IEnumerable<(string Field, string Url)> urls, EgressScope scope, CancellationToken ct)
    {
        var refusals = await RefusalsAsync(urls, scope, ct);
        if (refusals.Count > 0)
        {
            throw new EgressDeniedException(refusals[0]);
        }
    }

    /// <summary>Every refusal among the URLs, as <c>field: url: why</c> (empty when all are allowed).</summary>
    public async Task<IReadOnlyList<string>> RefusalsAsync(IEnumerable<(string Field, string Url)> urls, EgressScope scope, CancellationToken ct)
    {
        var refusals = new List<string>();
        var list = urls.ToList();
        if (list.Count == 0)
        {
            return refusals;
        }

        var rules = await RulesAsync(scope, ct);
        foreach (var (field, url) in list)
        {
            if (await CheckAsync(url, rules, ct) is { } refusal)
            {
                refusals.Add($"{field}: {url}: {refusal}");
            }
        }

        return refusals;
    }

    /// <summary>
    /// The addresses a client may connect to for <paramref name="host"/>, resolved now; throws
    /// <see cref="EgressDeniedException"/> when any of them is denied. Connect to these, never resolve again.
    /// </summary>
    public async Task<IPAddress[]> ResolveAllowedAsync(string host, EgressScope scope, CancellationToken ct)
    {
        var rules = await RulesAsync(scope, ct);
        var addresses = await ResolveAsync(host, ct);
        var refusal = EgressPolicy.Judge(host, addresses, rules.Allowed, rules.Protected);
        if (refusal is not null || addresses.Length == 0)
        {
            throw new EgressDeniedException(refusal ?? $"{host} does not resolve to an address.");
        }

        return addresses;
    }

    private static async Task<string?> CheckAsync(string url, Rules rules, CancellationToken ct) =>
        EgressUrl.TryParse(url, out var parsed) is { } error
            ? error
            : EgressPolicy.Judge(parsed!.Host, await ResolveAsync(parsed.Host, ct), rules.Allowed, rules.Protected);

    /// <summary>What the policy is judged against, read once per check: the allow entries that hold here, the protected addresses.</summary>
    private sealed record Rules(IReadOnlyList<EgressAllowEntry> Allowed, IReadOnlyDictionary<IPAddress, string> Protected);

    private async Task<Rules> RulesAsync(EgressScope scope, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var allowed = (await db.EgressAllowList.AsNoTracking().ToListAsync(ct)).Where(e => e.AppliesTo(scope)).ToList();
        var backends = await db.Backends.AsNoTracking().Select(b => new { b.Name, b.Host, b.Settings }).ToListAsync(ct);
        var protectedAddresses = new Dictionary<IPAddress, string>();
        foreach (var backend in backends)
        {
            // The backend's own host and the hosts of URLs in its settings (a management API, Prometheus, Alertmanager).
            var hosts = backend.Settings.Values
                .Select(v => Uri.TryCreate(v, UriKind.Absolute, out var uri) && uri.Host.Length > 0 ? uri.Host : null)
                .OfType<string>().Prepend(backend.Host).Distinct(StringComparer.OrdinalIgnoreCase);
            foreach (var backendHost in hosts)
            {
                foreach (var address in await ResolveAsync(backendHost, ct))
                {
                    protectedAddresses.TryAdd(address, $"the address of backend {backend.Name}");
                }
            }
        }

        foreach (var address in LocalAddresses())
        {
            protectedAddresses.TryAdd(address, "an address of the portal's own host");
        }

        return new Rules(allowed, protectedAddresses);
    }

    /// <summary>What a host resolves to now, canonical (IPv4-mapped as IPv4); empty when it does not resolve.</summary>
    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct)
    {
        var name = host.Trim('[', ']');
        if (IPAddress.TryParse(name, out var literal))
        {
            return [EgressAddress.Canonical(literal)];
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ResolveTimeout);
        try
        {
            return [.. (await Dns.GetHostAddressesAsync(name, timeout.Token)).Select(EgressAddress.Canonical).Distinct()];
        }
        catch (Exception e) when (e is SocketException or ArgumentException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return [];
        }
    }

    private static IEnumerable<IPAddress> LocalAddresses()
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .Select(a => EgressAddress.Canonical(a.Address.AddressFamily == AddressFamily.InterNetworkV6 ? new IPAddress(a.Address.GetAddressBytes()) : a.Address))
                .ToList();
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }
}

/// <summary>The egress policy refused a connection; the message says why. Retrying does not help.</summary>
public sealed class EgressDeniedException(string message) : Exception(message);
