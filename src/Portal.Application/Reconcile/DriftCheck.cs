using Microsoft.EntityFrameworkCore;
using Portal.Application.Backends;
using Portal.Data;
using Portal.Domain.Bindings;
using Portal.Domain.Instances;
using Portal.Provisioning;

namespace Portal.Application.Reconcile;

/// <summary>What reconcile found: differences from the record, and credentials or resources that should not exist.</summary>
public sealed record DriftFindings(IReadOnlyList<string> Differences, IReadOnlyList<string> Leftovers)
{
    public IReadOnlyList<string> All => [.. Differences, .. Leftovers];

    public bool IsClean => Differences.Count == 0 && Leftovers.Count == 0;
}

/// <summary>
/// Compares what a driver observes on the backend (<see cref="IServiceDriver.ObserveAsync"/>) with what Portal recorded of
/// an instance and its bindings. Read-only on both sides.
/// </summary>
public sealed class DriftCheck(
    IDbContextFactory<PortalDbContext> dbFactory, DriverRegistry drivers, BackendEndpoints endpoints, Egress.EgressGuard egress)
{
    /// <summary>Observes the instance on its backend and compares; throws when the backend cannot be reached.</summary>
    public async Task<DriftFindings> CheckAsync(Guid instanceId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var instance = await db.Instances.AsNoTracking().FirstAsync(i => i.Id == instanceId, ct);
        var limits = await db.Plans.Where(p => p.Id == instance.PlanId).Select(p => p.Limits).FirstAsync(ct);
        var backend = await db.Backends.AsNoTracking().FirstAsync(b => b.Id == instance.BackendId, ct);
        var bindings = await db.Bindings.AsNoTracking().Where(b => b.InstanceId == instanceId).ToListAsync(ct);
        var context = new InstanceContext(instance.Id, await endpoints.ForAsync(backend, ct), limits, new Progress<string>())
        {
            Parameters = instance.Parameters,
        };
        var driver = drivers.Get(backend.Kind);
        var findings = Compare(instance.State, bindings, await driver.ObserveAsync(context, ct));

        // A URL the backend connects to that the egress policy denies now (an allow entry went, a name moved) is drift:
        // the instance is marked Drifted and its repair refuses to apply it until the URL or the allow list changes.
        var refusals = await egress.RefusalsAsync(Instances.RequestInstanceHandler.EgressUrls(driver, instance.Parameters),
            new Portal.Domain.Egress.EgressScope(backend.Site, backend.Id), ct);
        return refusals.Count == 0 ? findings
            : findings with { Differences = [.. findings.Differences, .. refusals.Select(r => $"egress denied: {r}")] };
    }

    /// <summary>The generations of a binding whose credentials must work now: the current one, and the one in its overlap.</summary>
    public static IReadOnlySet<int> ExpectedGenerations(Binding binding) =>
        binding.State != BindingState.Ready ? new HashSet<int>()
        : binding.RetiringGeneration is { } retiring ? new HashSet<int> { binding.Generation, retiring }
        : new HashSet<int> { binding.Generation };

    /// <summary>An instance that is up must be on the backend as recorded; of any other, nothing may be left.</summary>
    public static DriftFindings Compare(InstanceState state, IReadOnlyList<Binding> bindings, Observation observed)
    {
        var differences = new List<string>();
        var leftovers = new List<string>();
        var live = state is InstanceState.Ready or InstanceState.Drifted or InstanceState.Degraded or InstanceState.Updating;
        if (live)
        {
            // The driver's own differences name what is gone more precisely, when it gives any.
            if (!observed.Exists && observed.Differences.Count == 0)
            {
                differences.Add("the instance's resources are gone from the backend");
            }

            differences.AddRange(observed.Differences);
        }
        else if (observed.Exists)
        {
            leftovers.Add($"the resources of this {state} instance are still on the backend");
        }

        if (observed.Bindings is not { } present)
        {
            return new DriftFindings(differences, leftovers);
        }

        var byId = bindings.ToDictionary(b => b.Id);
        if (live)
        {
            foreach (var binding in bindings)
            {
                foreach (var generation in ExpectedGenerations(binding).Order())
                {
                    if (!present.TryGetValue(binding.Id, out var found) || !found.Contains(generation))
                    {
                        differences.Add($"binding {binding.AppName}: the credentials of generation {generation} are gone from the backend");
                    }
                }
            }
        }

        foreach (var (bindingId, generations) in present.OrderBy(p => p.Key))
        {
            var binding = byId.GetValueOrDefault(bindingId);
            var expected = live && binding is not null ? ExpectedGenerations(binding) : new HashSet<int>();
            foreach (var generation in generations.Except(expected).Order())
            {
                leftovers.Add(binding is null
                    ? $"credentials of a binding Portal does not know ({bindingId}, generation {generation}) are on the backend"
                    : $"binding {binding.AppName} ({binding.State}): credentials of generation {generation} are still on the backend");
            }
        }

        return new DriftFindings(differences, leftovers);
    }
}
