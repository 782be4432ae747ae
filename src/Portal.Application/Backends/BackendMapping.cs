using Portal.Application.Common;
using Portal.Data.Security;
using Portal.Domain.Backends;
using Portal.Provisioning;

namespace Portal.Application.Backends;

public static class BackendMapping
{
    public static BackendView ToView(this Backend b, int instances = 0) =>
        new(b.Id, b.Name, b.Kind, b.Host, b.Port, b.AdminUser, b.LastCheckHealthy, b.LastCheckMessage, b.LastCheckedAt,
            b.Site, b.Capacity, b.Settings, instances, b.WorkerQueue, b.RetiredAt);

    public static BackendEndpoint ToEndpoint(this Backend b, SecretProtector secrets) =>
        new(b.Host, b.Port, b.AdminUser, secrets.Unprotect(b.ProtectedAdminPassword)) { Settings = b.Settings };

    /// <summary>The settings a backend of the kind takes: the driver's own, and <c>tls</c> where the driver talks TLS.</summary>
    public static IReadOnlyList<DriverField> SettingsOf(IServiceDriver driver) =>
        driver.SupportsTls ? [.. driver.BackendSettings, BackendEndpoint.TlsSetting] : driver.BackendSettings;

    /// <summary>Checks site, capacity and the kind's settings (required ones present, no unknown names).</summary>
    internal static Validator RequireBackendShape(
        this Validator v, IServiceDriver? driver, string? site, int? capacity, IReadOnlyDictionary<string, string>? settings,
        string? workerQueue = null)
    {
        v.Require(site is null || Placement.IsSiteName(site), "site", $"The site must be {Placement.SiteRule}.")
         .Require(string.IsNullOrEmpty(workerQueue) || Placement.IsQueueName(workerQueue), "workerQueue",
             "A worker queue is 1 to 40 lowercase letters, digits, dashes or underscores, e.g. dc2-logging.")
         .Require(capacity is null or >= 0, "capacity", "The capacity cannot be negative; leave it empty for no limit.");
        if (driver is null || settings is null)
        {
            return v;
        }

        var known = SettingsOf(driver).Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = settings.Keys.Where(k => !known.Contains(k)).ToList();
        v.Require(unknown.Count == 0, "settings",
            $"Unknown setting {string.Join(", ", unknown)}; a {driver.Kind} backend has {(known.Count == 0 ? "none" : string.Join(", ", known))}.");
        foreach (var field in driver.BackendSettings.Where(f => f.Required))
        {
            v.Require(!string.IsNullOrWhiteSpace(settings.GetValueOrDefault(field.Name)), "settings",
                $"Give the setting {field.Name}: {field.Help}");
        }

        return v;
    }

    internal static Dictionary<string, string> Cleaned(this IReadOnlyDictionary<string, string>? settings) =>
        (settings ?? new Dictionary<string, string>()).Where(kv => !string.IsNullOrWhiteSpace(kv.Value))
            .ToDictionary(kv => kv.Key, kv => kv.Value.Trim(), StringComparer.Ordinal);
}
