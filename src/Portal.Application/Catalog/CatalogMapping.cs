using Portal.Domain.Catalog;
using Portal.Provisioning;

namespace Portal.Application.Catalog;

internal static class CatalogMapping
{
    public static PlanView ToView(this Plan p) =>
        new(p.Id, p.Key, p.Name, p.Description, p.MonthlyCost, p.Limits, p.MaxLeaseDays, Retired: !p.IsActive);

    /// <summary>An offering with its loaded plans; <paramref name="sites"/> names the site of each backend in service (not retired).</summary>
    public static OfferingView ToView(Offering o, IReadOnlyDictionary<Guid, string> sites, DriverRegistry drivers)
    {
        var driver = drivers.Find(o.Kind);
        return new(
            o.Id, o.Key, o.Kind, o.Name, o.Description, o.Category, o.BackendIds.Any(sites.ContainsKey) && driver is not null, o.BackendIds,
            o.Plans.Select(p => p.ToView()).ToList(),
            o.BackendIds.Select(id => sites.GetValueOrDefault(id)).OfType<string>().Distinct().Order().ToList(),
            driver?.InstanceParameters ?? [], Bindings.CredentialKeys.PlanLimitsOf(driver));
    }
}
