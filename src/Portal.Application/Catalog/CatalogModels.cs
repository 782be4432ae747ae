using Portal.Provisioning;

namespace Portal.Application.Catalog;

/// <param name="Retired">Taken out of the catalog: no new instance or plan change may choose it; instances on it keep it.</param>
public sealed record PlanView(
    Guid Id, string Key, string Name, string Description, decimal MonthlyCost, IReadOnlyDictionary<string, int> Limits, int? MaxLeaseDays = null,
    bool Retired = false);

/// <param name="BackendIds">The backends placement may choose from.</param>
/// <param name="Sites">The sites a request may name (those of its backends).</param>
/// <param name="Parameters">What a requester may (or must) give, e.g. redirect URIs.</param>
/// <param name="PlanLimits">The limits the offering's driver applies, for the plan editor.</param>
public sealed record OfferingView(
    Guid Id, string Key, string Kind, string Name, string Description, string Category, bool IsAvailable,
    IReadOnlyList<Guid> BackendIds, IReadOnlyList<PlanView> Plans, IReadOnlyList<string> Sites,
    IReadOnlyList<DriverField> Parameters, IReadOnlyList<DriverField> PlanLimits);
