using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Catalog;
using Portal.Domain.Instances;

namespace Portal.Application.Catalog;

public sealed record PlanView(
    Guid Id, string Key, string Name, string Description, decimal MonthlyCost, IReadOnlyDictionary<string, int> Limits, int? MaxLeaseDays = null);

public sealed record OfferingView(
    Guid Id, string Key, string Kind, string Name, string Description, string Category, bool IsAvailable, Guid? BackendId,
    IReadOnlyList<PlanView> Plans);

/// <summary>The catalog: every active offering with its active plans. Open to every signed-in user.</summary>
public sealed class ListOfferingsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<IReadOnlyList<OfferingView>> HandleAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offerings = await db.Offerings.AsNoTracking()
            .Where(o => o.IsActive)
            .Include(o => o.Plans.Where(p => p.IsActive).OrderBy(p => p.MonthlyCost))
            .OrderBy(o => o.Category).ThenBy(o => o.Name)
            .ToListAsync(ct);
        return offerings.Select(ToView).ToList();
    }

    internal static OfferingView ToView(Offering o) => new(
        o.Id, o.Key, o.Kind, o.Name, o.Description, o.Category, o.BackendId is not null, o.BackendId,
        o.Plans.Select(p => new PlanView(p.Id, p.Key, p.Name, p.Description, p.MonthlyCost, p.Limits, p.MaxLeaseDays)).ToList());
}

/// <param name="MaxLeaseDays">The longest an instance may live; null: no limit.</param>
public sealed record AddPlan(string Key, string Name, string? Description, decimal MonthlyCost, Dictionary<string, int>? Limits, int? MaxLeaseDays = null);

/// <summary>Adds a plan to an offering. Platform admins only.</summary>
public sealed class AddPlanHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task<PlanView> HandleAsync(Actor actor, Guid offeringId, AddPlan request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Require(ResourceName.IsValid(request.Key), "key", $"The plan key must be {ResourceName.Rule}.")
            .Require(request.Name?.Trim().Length is >= 2 and <= 100, "name", "Give the plan a name of 2 to 100 characters.")
            .Require(request.MonthlyCost >= 0, "monthlyCost", "The monthly cost cannot be negative.")
            .Require(request.Limits?.Values.All(v => v >= 0) ?? true, "limits", "Limits cannot be negative.")
            .Require(request.MaxLeaseDays is null or > 0, "maxLeaseDays", "A lease lasts at least one day.")
            .ThrowIfInvalid();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offering = await db.Offerings.Include(o => o.Plans).FirstOrDefaultAsync(o => o.Id == offeringId, ct)
            ?? throw new NotFoundException("Offering");
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

/// <summary>Points an offering at the backend its new instances are placed on. Platform admins only.</summary>
public sealed class SetOfferingBackendHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task<OfferingView> HandleAsync(Actor actor, Guid offeringId, Guid backendId, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var offering = await db.Offerings.Include(o => o.Plans).FirstOrDefaultAsync(o => o.Id == offeringId, ct)
            ?? throw new NotFoundException("Offering");
        var backend = await db.Backends.FirstOrDefaultAsync(b => b.Id == backendId, ct)
            ?? throw ValidationException.For("backendId", "No such backend.");
        if (backend.Kind != offering.Kind)
        {
            throw ValidationException.For("backendId", $"The offering needs a {offering.Kind} backend, not {backend.Kind}.");
        }

        offering.BackendId = backend.Id;
        db.Audit(actor, clock.GetUtcNow(), "offering.backend-set", "offering", offering.Id, null, $"{offering.Key} on {backend.Name}");
        await db.SaveChangesAsync(ct);
        return ListOfferingsHandler.ToView(offering);
    }
}
