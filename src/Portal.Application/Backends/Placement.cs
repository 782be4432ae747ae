using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Backends;
using Portal.Domain.Catalog;
using Portal.Application.Instances;

namespace Portal.Application.Backends;

/// <summary>
/// Chooses the backend a new instance goes to: among the offering's backends (of the requested site, if
/// one is named) that are in service (not retired) and not known to be down, the one with the most room left under
/// its capacity.
/// </summary>
public static partial class Placement
{
    public const string SiteRule = "1 to 40 lowercase letters, digits or dashes, e.g. dc1";

    public static bool IsSiteName(string site) => SiteName().IsMatch(site);

    /// <summary>Hangfire takes lowercase letters, digits, dashes and underscores in queue names.</summary>
    public static bool IsQueueName(string queue) => QueueName().IsMatch(queue);

    /// <summary>
    /// Picks the backend; the caller's transaction then inserts the instance. Holds a transaction lock per
    /// offering so two requests cannot both take the last free place.
    /// </summary>
    /// <exception cref="ValidationException">The offering has no backend at the named site.</exception>
    /// <exception cref="ConflictException">No backend has room (or all are down).</exception>
    public static async Task<Backend> ChooseAsync(PortalDbContext db, Offering offering, string? site, CancellationToken ct)
    {
        if (offering.BackendIds.Count == 0)
        {
            throw new ConflictException($"{offering.Name} has no backend yet; ask a platform admin to assign one.");
        }

        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({BitConverter.ToInt64(offering.Id.ToByteArray(), 8)})", ct);
        var backends = await db.Backends.AsNoTracking().Where(b => offering.BackendIds.Contains(b.Id) && b.RetiredAt == null).ToListAsync(ct);
        if (backends.Count == 0)
        {
            throw new ConflictException($"Every {offering.Name} backend is retired; ask a platform admin to assign one in service.");
        }

        var sites = backends.Select(b => b.Site).Distinct().Order().ToList();
        if (site is not null)
        {
            backends = backends.Where(b => b.Site == site).ToList();
            if (backends.Count == 0)
            {
                throw ValidationException.For("site", $"{offering.Name} is not offered at site '{site}'. Sites: {string.Join(", ", sites)}.");
            }
        }

        var use = await LiveInstancesByBackendAsync(db, ct);
        var candidates = backends
            .Select(b => new { Backend = b, Used = use.GetValueOrDefault(b.Id) })
            .Select(c => new { c.Backend, c.Used, Room = c.Backend.Capacity is { } cap ? cap - c.Used : int.MaxValue })
            .ToList();
        var choice = candidates
            .Where(c => c.Room > 0 && c.Backend.LastCheckHealthy != false)
            .OrderByDescending(c => c.Room).ThenBy(c => c.Used).ThenBy(c => c.Backend.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        if (choice is null)
        {
            var where = site is null ? "" : $" at site {site}";
            var state = string.Join("; ", candidates.OrderBy(c => c.Backend.Name, StringComparer.Ordinal).Select(c =>
                c.Backend.LastCheckHealthy == false ? $"{c.Backend.Name} failed its last health check"
                    : $"{c.Backend.Name} holds {c.Used} of {c.Backend.Capacity}"));
            throw new ConflictException($"No {offering.Name} backend{where} has room for a new instance ({state}). Ask the platform team for capacity.");
        }

        return choice.Backend;
    }

    /// <summary>Live instances per backend: what counts against each capacity.</summary>
    public static async Task<Dictionary<Guid, int>> LiveInstancesByBackendAsync(PortalDbContext db, CancellationToken ct) =>
        await db.Instances.AsNoTracking().Live()
            .GroupBy(i => i.BackendId)
            .Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count, ct);

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")]
    private static partial Regex SiteName();

    [GeneratedRegex("^[a-z0-9_-]{1,40}$")]
    private static partial Regex QueueName();
}
