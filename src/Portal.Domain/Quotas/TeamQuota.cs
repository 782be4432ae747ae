namespace Portal.Domain.Quotas;

/// <summary>
/// A platform admin's overrides of a team's quota. A null limit means "the configured default";
/// instances that exist (not Deleted or Rejected) count against it.
/// </summary>
public sealed class TeamQuota
{
    public Guid TeamId { get; init; }

    public int? MaxInstances { get; set; }

    public decimal? MaxMonthlyCost { get; set; }

    /// <summary>Maximum instances per offering key, e.g. <c>postgresql</c> = 5.</summary>
    public Dictionary<string, int> MaxInstancesPerOffering { get; set; } = [];
}

/// <summary>Limits and use of one team, and whether one more instance at a cost fits.</summary>
public sealed record QuotaUse(
    int MaxInstances, int Instances, decimal MaxMonthlyCost, decimal MonthlyCost,
    IReadOnlyDictionary<string, int> MaxInstancesPerOffering, IReadOnlyDictionary<string, int> InstancesPerOffering)
{
    /// <summary>The first quota one more instance of <paramref name="offering"/> at <paramref name="cost"/> would break, or null.</summary>
    public QuotaBreach? Breach(string offering, decimal cost)
    {
        if (Instances + 1 > MaxInstances)
        {
            return new QuotaBreach("instances", $"{MaxInstances}", $"{Instances}",
                $"The team's quota allows {MaxInstances} instances and it has {Instances}.");
        }

        if (MaxInstancesPerOffering.TryGetValue(offering, out var max))
        {
            var used = InstancesPerOffering.GetValueOrDefault(offering);
            if (used + 1 > max)
            {
                return new QuotaBreach($"instances of {offering}", $"{max}", $"{used}",
                    $"The team's quota allows {max} {offering} instances and it has {used}.");
            }
        }

        if (MonthlyCost + cost > MaxMonthlyCost)
        {
            return new QuotaBreach("monthly cost", $"{MaxMonthlyCost:0.00}", $"{MonthlyCost:0.00}",
                $"The team's quota allows {MaxMonthlyCost:0.00} a month; it uses {MonthlyCost:0.00} and this plan costs {cost:0.00}.");
        }

        return null;
    }
}

/// <param name="Quota">Which quota, e.g. <c>instances</c> or <c>monthly cost</c>.</param>
public sealed record QuotaBreach(string Quota, string Limit, string Used, string Message);
