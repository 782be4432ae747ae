using Portal.Domain.Catalog;
using Portal.Provisioning;

namespace Portal.Application.Catalog;

internal static class CatalogMapping
{
    /// <summary>An offering with its loaded plans; <paramref name="sites"/> names the site of each backend.</summary>
    public static OfferingView ToView(Offering o, IReadOnlyDictionary<Guid, string> sites, DriverRegistry drivers)
    {
        var driver = drivers.Find(o.Kind);
        return new(
            o.Id, o.Key, o.Kind, o.Name, o.Description, o.Category, o.BackendIds.Count > 0 && driver is not null, o.BackendIds,
            o.Plans.Select(p => new PlanView(p.Id, p.Key, p.Name, p.Description, p.MonthlyCost, p.Limits, p.MaxLeaseDays)).ToList(),
            o.BackendIds.Select(id => sites.GetValueOrDefault(id)).OfType<string>().Distinct().Order().ToList(),
            driver?.InstanceParameters ?? [], Bindings.CredentialKeys.PlanLimitsOf(driver));
    }
}
