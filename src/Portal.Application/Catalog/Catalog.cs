using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Catalog;
using Portal.Domain.Instances;
using Portal.Provisioning;

namespace Portal.Application.Catalog;

public sealed record PlanView(
    Guid Id, string Key, string Name, string Description, decimal MonthlyCost, IReadOnlyDictionary<string, int> Limits, int? MaxLeaseDays = null);

/// <param name="BackendIds">The backends placement may choose from.</param>
/// <param name="Sites">The sites a request may name (those of its backends).</param>
/// <param name="Parameters">What a requester may (or must) give, e.g. redirect URIs.</param>
/// <param name="PlanLimits">The limits the offering's driver applies, for the plan editor.</param>
public sealed record OfferingView(
    Guid Id, string Key, string Kind, string Name, string Description, string Category, bool IsAvailable,
    IReadOnlyList<Guid> BackendIds, IReadOnlyList<PlanView> Plans, IReadOnlyList<string> Sites,
    IReadOnlyList<DriverField> Parameters, IReadOnlyList<DriverField> PlanLimits);

/// <summary>The catalog: every active offering with its active plans. Open to every signed-in user.</summary>
public sealed class ListOfferingsHandler(IDbContextFactory<PortalDbContext> dbFactory, DriverRegistry drivers)
{
    public async Task<IReadOnlyList<OfferingView>> HandleAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offerings = await db.Offerings.AsNoTracking()
            .Where(o => o.IsActive)
            .Include(o => o.Plans.Where(p => p.IsActive).OrderBy(p => p.MonthlyCost).ThenBy(p => p.Id))
            .OrderBy(o => o.Category).ThenBy(o => o.Name)
            .ToListAsync(ct);
        var sites = await db.Backends.AsNoTracking().Select(b => new { b.Id, b.Site }).ToDictionaryAsync(b => b.Id, b => b.Site, ct);
        return offerings.Select(o => ToView(o, sites, drivers)).ToList();
    }

    internal static OfferingView ToView(Offering o, IReadOnlyDictionary<Guid, string> sites, DriverRegistry drivers)
    {
        var driver = drivers.Find(o.Kind);
        return new(
            o.Id, o.Key, o.Kind, o.Name, o.Description, o.Category, o.BackendIds.Count > 0 && driver is not null, o.BackendIds,
            o.Plans.Select(p => new PlanView(p.Id, p.Key, p.Name, p.Description, p.MonthlyCost, p.Limits, p.MaxLeaseDays)).ToList(),
            o.BackendIds.Select(id => sites.GetValueOrDefault(id)).OfType<string>().Distinct().Order().ToList(),
            driver?.InstanceParameters ?? [], Bindings.CredentialKeys.PlanLimitsOf(driver));
    }
}

/// <param name="MaxLeaseDays">The longest an instance may live; null: no limit.</param>
public sealed record AddPlan(string Key, string Name, string? Description, decimal MonthlyCost, Dictionary<string, int>? Limits, int? MaxLeaseDays = null);

/// <summary>Adds a plan to an offering. Platform admins only.</summary>
public sealed class AddPlanHandler(IDbContextFactory<PortalDbContext> dbFactory, DriverRegistry drivers, TimeProvider clock)
{
    public async Task<PlanView> HandleAsync(Actor actor, Guid offeringId, AddPlan request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Require(ResourceName.IsValid(request.Key), "key", $"The plan key must be {ResourceName.Rule}.")
            .Require(request.Name?.Trim().Length is >= 2 and <= 100, "name", "Give the plan a name of 2 to 100 characters.")
            .Require(request.MonthlyCost >= 0, "monthlyCost", "The monthly cost cannot be negative.")
            .Require(request.Limits?.Values.All(v => v >= 0) ?? true, "limits", "Limits cannot be negative.")
            .Require(request.Limits?.GetValueOrDefault(Bindings.ScheduledRotation.OverlapLimit) is not > Bindings.RotateBindingHandler.MaxOverlapMinutes,
                "limits", $"{Bindings.ScheduledRotation.OverlapLimit} is at most {Bindings.RotateBindingHandler.MaxOverlapMinutes} minutes (7 days).")
            .Require(request.MaxLeaseDays is null or > 0, "maxLeaseDays", "A lease lasts at least one day.")
            .ThrowIfInvalid();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offering = await db.Offerings.Include(o => o.Plans).FirstOrDefaultAsync(o => o.Id == offeringId, ct)
            ?? throw new NotFoundException("Offering");
        var known = Bindings.CredentialKeys.PlanLimitsOf(drivers.Find(offering.Kind)).Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = (request.Limits ?? []).Keys.Where(k => !known.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw ValidationException.For("limits",
                $"Unknown limit {string.Join(", ", unknown)}; {offering.Kind} plans have {(known.Count == 0 ? "no limits" : string.Join(", ", known.Order()))}.");
        }

        if (offering.Plans.Any(p => p.Key == request.Key))
        {
            throw new ConflictException($"The offering has a plan '{request.Key}' already.");
        }

        var plan = new Plan
        {
            OfferingId = offering.Id,
            Key = request.Key,
            Name = request.Name!.Trim(),
            Description = request.Description?.Trim() ?? "",
            MonthlyCost = request.MonthlyCost,
            Limits = request.Limits ?? [],
            MaxLeaseDays = request.MaxLeaseDays,
        };
        db.Plans.Add(plan);
        db.Audit(actor, clock.GetUtcNow(), "offering.plan-added", "offering", offering.Id, null, $"{offering.Key}/{plan.Key}, {plan.MonthlyCost} a month");
        await db.SaveOrConflictAsync($"The offering has a plan '{request.Key}' already.", ct);
        return new PlanView(plan.Id, plan.Key, plan.Name, plan.Description, plan.MonthlyCost, plan.Limits, plan.MaxLeaseDays);
    }
}

/// <summary>
/// Sets the backends an offering's new instances may be placed on; existing instances stay where they are.
/// Platform admins only.
/// </summary>
public sealed class SetOfferingBackendsHandler(IDbContextFactory<PortalDbContext> dbFactory, DriverRegistry drivers, TimeProvider clock)
{
    public async Task<OfferingView> HandleAsync(Actor actor, Guid offeringId, IReadOnlyList<Guid> backendIds, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offering = await db.Offerings.Include(o => o.Plans).FirstOrDefaultAsync(o => o.Id == offeringId, ct)
            ?? throw new NotFoundException("Offering");
        var ids = (backendIds ?? []).Distinct().ToList();
        var backends = await db.Backends.Where(b => ids.Contains(b.Id)).ToListAsync(ct);
        if (backends.Count != ids.Count)
        {
            throw ValidationException.For("backendIds", "No such backend: " + string.Join(", ", ids.Except(backends.Select(b => b.Id))) + ".");
        }

        if (backends.FirstOrDefault(b => b.Kind != offering.Kind) is { } wrong)
        {
            throw ValidationException.For("backendIds", $"The offering needs {offering.Kind} backends; {wrong.Name} is {wrong.Kind}.");
        }

        offering.BackendIds = ids;
        db.Audit(actor, clock.GetUtcNow(), "offering.backends-set", "offering", offering.Id, null,
            $"{offering.Key} on {(backends.Count == 0 ? "no backend" : string.Join(", ", backends.Select(b => b.Name).Order()))}");
        await db.SaveChangesAsync(ct);
        var sites = backends.ToDictionary(b => b.Id, b => b.Site);
        return ListOfferingsHandler.ToView(offering, sites, drivers);
    }
}

/// <summary>Reads plan limits written as <c>connections=20, queues=10</c>.</summary>
public static class PlanLimitsText
{
    /// <exception cref="ValidationException">A part is not <c>name=number</c>.</exception>
    public static Dictionary<string, int> Parse(string? text)
    {
        var limits = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var part in (text ?? "").Split([',', ';', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pair = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pair.Length != 2 || pair[0].Length == 0 ||
                !int.TryParse(pair[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value))
            {
                throw ValidationException.For("limits", $"Write limits as name=number, separated by commas; '{part}' is not.");
            }

            limits[pair[0]] = value;
        }

        return limits;
    }
}
