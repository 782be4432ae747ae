namespace Portal.Domain.Catalog;

/// <summary>A catalog entry: one kind of baseline service, offered in several plans.</summary>
public sealed class Offering
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    /// <summary>Stable key used in the API, e.g. <c>postgresql</c>.</summary>
    public required string Key { get; init; }

    /// <summary>The driver kind that provisions it, e.g. <c>postgresql</c>.</summary>
    public required string Kind { get; init; }

    public required string Name { get; set; }

    public required string Description { get; set; }

    /// <summary>Catalog group, e.g. "Databases".</summary>
    public required string Category { get; set; }

    /// <summary>
    /// The backends new instances may be placed on (placement picks the one with the most room at the
    /// requested site); none means the offering can't be requested yet.
    /// </summary>
    public List<Guid> BackendIds { get; set; } = [];

    public bool IsActive { get; set; } = true;

    public List<Plan> Plans { get; init; } = [];
}

/// <summary>A size of an offering with its limits and price.</summary>
public sealed class Plan
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public Guid OfferingId { get; init; }

    /// <summary>Stable key within the offering, e.g. <c>small</c>.</summary>
    public required string Key { get; init; }

    public required string Name { get; set; }

    public required string Description { get; set; }

    /// <summary>The most a plan may cost a month: a bound for typing mistakes (an extra digit or three), far below what the column holds.</summary>
    public const double MaxMonthlyCost = 1_000_000;

    public decimal MonthlyCost { get; set; }

    /// <summary>The longest an instance of this plan may live before it is deprovisioned; null: no limit.</summary>
    public int? MaxLeaseDays { get; set; }

    /// <summary>Limits the driver applies, e.g. <c>connections</c> = 20.</summary>
    public Dictionary<string, int> Limits { get; set; } = [];

    public bool IsActive { get; set; } = true;
}
