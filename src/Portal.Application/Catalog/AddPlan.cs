using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Catalog;
using Portal.Domain.Instances;
using Portal.Provisioning;

namespace Portal.Application.Catalog;

/// <param name="MaxLeaseDays">The longest an instance may live; null: no limit.</param>
public sealed record AddPlan(
    string Key, string Name, [Text(InputRules.DescriptionLength, MultiLine = true)] string? Description,
    [Range(0d, Plan.MaxMonthlyCost)] decimal MonthlyCost, [Range(0, 100_000_000)] Dictionary<string, int>? Limits,
    [Range(1, 3650)] int? MaxLeaseDays = null);

/// <summary>Adds a plan to an offering. Platform admins only.</summary>
public sealed class AddPlanHandler(IDbContextFactory<PortalDbContext> dbFactory, DriverRegistry drivers, TimeProvider clock)
{
    public async Task<PlanView> HandleAsync(Actor actor, Guid offeringId, AddPlan request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Input(request)
            .Require(ResourceName.IsValid(request.Key), "key", $"The plan key must be {ResourceName.Rule}.")
            .Require(request.Name?.Trim().Length is >= 2 and <= 100, "name", "Give the plan a name of 2 to 100 characters.")
            .Require(request.MonthlyCost >= 0, "monthlyCost", "The monthly cost cannot be negative.")
            .Require(request.Limits?.Values.All(v => v >= 0) ?? true, "limits", "Limits cannot be negative.")
            .Require(request.Limits?.GetValueOrDefault(Bindings.ScheduledRotation.OverlapLimit) is not > Bindings.RotationOverlap.MaxMinutes,
                "limits", $"{Bindings.ScheduledRotation.OverlapLimit} is at most {Bindings.RotationOverlap.MaxMinutes} minutes (7 days).")
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
        return plan.ToView();
    }
}
