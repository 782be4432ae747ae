using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Backends;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Egress;
using Portal.Application.Operations;
using Portal.Application.Notifications;
using Portal.Application.Quotas;
using Portal.Application.Webhooks;
using Portal.Domain.Webhooks;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Approvals;
using Portal.Domain.Egress;
using Portal.Domain.Instances;
using Portal.Domain.Operations;
using Portal.Provisioning;

namespace Portal.Application.Instances;

/// <param name="TeamId">The team that will own the instance.</param>
/// <param name="Offering">The offering's key, e.g. <c>postgresql</c>.</param>
/// <param name="Plan">The plan's key, e.g. <c>small</c>.</param>
/// <param name="Name">A name for people, unique within the team.</param>
/// <param name="Environment"><c>dev</c> (default), <c>test</c> or <c>prod</c>.</param>
/// <param name="Site">The site to place it at, e.g. <c>dc1</c>; null: wherever there is most room.</param>
/// <param name="Parameters">The offering's instance parameters, e.g. redirect URIs (see the catalog).</param>
public sealed record RequestInstance(
    Guid TeamId, string Offering, string Plan, string Name, string? Environment = null, string? Site = null,
    [Text(InputRules.UrlLength)] Dictionary<string, string>? Parameters = null);

/// <summary>
/// Requests a new instance: records it with its provision operation in one transaction, then hands the
/// operation to a background job. Developers and owners of the team.
/// </summary>
public sealed class RequestInstanceHandler(
    IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, QuotaService quotas, WebhookPublisher webhooks, DriverRegistry drivers,
    EgressGuard egress, TimeProvider clock)
{
    public async Task<AcceptedChange<InstanceSummary>> HandleAsync(Actor actor, RequestInstance request, CancellationToken ct = default)
    {
        new Validator()
            .Input(request)
            .Require(request.TeamId != Guid.Empty, "teamId", "Pick the team that will own the instance.")
            .Require(!string.IsNullOrWhiteSpace(request.Offering), "offering", "Pick an offering from the catalog.")
            .Require(!string.IsNullOrWhiteSpace(request.Plan), "plan", "Pick a plan.")
            .Require(ResourceName.IsValid(request.Name), "name", $"The instance name must be {ResourceName.Rule}.")
            .Require(request.Environment is null || ApprovalPolicy.Environments.Contains(request.Environment), "environment",
                $"The environment must be one of {string.Join(", ", ApprovalPolicy.Environments)}.")
            .Require(request.Site is null || Placement.IsSiteName(request.Site), "site", $"The site must be {Placement.SiteRule}.")
            .ThrowIfInvalid();
        var environment = request.Environment ?? "dev";

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireAsync(actor, request.TeamId, TeamPermission.Deploy, "Team", ct);

        var offering = await db.Offerings.Include(o => o.Plans)
            .FirstOrDefaultAsync(o => o.Key == request.Offering && o.IsActive, ct)
            ?? throw ValidationException.For("offering", $"The catalog has no offering '{request.Offering}'.");
        var plan = offering.Plans.FirstOrDefault(p => p.Key == request.Plan && p.IsActive)
            ?? throw ValidationException.For("plan", $"{offering.Name} has no plan '{request.Plan}'. Plans: {string.Join(", ", offering.Plans.Where(p => p.IsActive).Select(p => p.Key))}.");
        var driver = drivers.Get(offering.Kind);
        var parameters = ValidParameters(driver, request.Parameters);

        if (await db.Instances.Live().AnyAsync(i => i.TeamId == request.TeamId && i.Name == request.Name, ct))
        {
            throw new ConflictException($"The team has an instance named '{request.Name}' already.");
        }

        // The quota check and the insert share one transaction under the team's quota lock.
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await quotas.EnsureRoomAsync(db, request.TeamId, offering.Key, plan.MonthlyCost, ct);
        var backend = await Placement.ChooseAsync(db, offering, request.Site, ct);

        // Where the backend will connect (scrape targets, alert webhooks) is judged for that backend and its site.
        await egress.RequireAllowedAsync(EgressUrls(driver, parameters), new EgressScope(backend.Site, backend.Id), ct);
        var now = clock.GetUtcNow();
        var instance = new Instance
        {
            TeamId = request.TeamId,
            OfferingId = offering.Id,
            PlanId = plan.Id,
            BackendId = backend.Id,
            Name = request.Name,
            Environment = environment,
            Parameters = parameters,
            CreatedBy = actor.UserId,
            CreatedAt = now,
        };
        instance.StartLease(plan.MaxLeaseDays, now);
        db.Instances.Add(instance);
        var rules = await db.ApprovalRules.AsNoTracking().ToListAsync(ct);
        var outcome = ApprovalPolicy.Evaluate(rules, new RequestFacts(offering.Key, plan.Key, request.TeamId, environment, plan.MonthlyCost, ApprovalOperation.Create));
        Operation? operation = null;
        ApprovalRequest? approval = null;
        if (outcome.AutoApproved)
        {
            instance.MoveTo(InstanceState.Provisioning, now, "Waiting for a worker");
            operation = new Operation { InstanceId = instance.Id, Kind = OperationKind.Provision, RequestedBy = actor.UserId, CreatedAt = now };
            db.Operations.Add(operation);
        }
        else
        {
            // Nothing touches a backend until every stage is approved.
            approval = new ApprovalRequest
            {
                InstanceId = instance.Id, TeamId = instance.TeamId, Operation = ApprovalOperation.Create, RequestedBy = actor.UserId,
                RequestedByName = actor.Name, RuleName = outcome.Rule!.Name, Stages = [.. outcome.Stages], CreatedAt = now,
            };
            db.ApprovalRequests.Add(approval);
            instance.HoldForApproval(now, $"Waiting for approval: {string.Join(" → ", outcome.Stages.Select(s => s.Name))} ({outcome.Rule.Name})");
            await db.NotifyApproversAsync(outcome.Stages[0], instance.TeamId, actor.UserId, now, $"{request.Name} waits for your approval",
                $"{actor.Name} asks for {offering.Name}, plan {plan.Name}, {environment}.", ct);
        }

        db.Audit(actor, now, "instance.requested", "instance", instance.Id, instance.TeamId,
            $"{request.Name}: {offering.Key}, plan {plan.Key}, on {backend.Name} ({backend.Site})");
        await db.SaveOrConflictAsync($"The team has an instance named '{request.Name}' already.", ct);
        await transaction.CommitAsync(ct);

        if (operation is not null)
        {
            await queue.EnqueueAsync(operation.Id);
        }

        await webhooks.PublishAsync(WebhookEvents.RequestSubmitted, instance.TeamId, new
        {
            instanceId = instance.Id, instance.Name, offering = offering.Key, plan = plan.Key, environment, requestedBy = actor.Name,
            approval = approval is null ? "auto-approved" : "pending", approvalRequestId = approval?.Id,
        }, ct);

        var team = await db.Teams.Where(t => t.Id == instance.TeamId).Select(t => t.Name).FirstAsync(ct);
        return new(
            new InstanceSummary(instance.Id, instance.Name, instance.TeamId, team, offering.Key, offering.Name, plan.Key, plan.Name,
                instance.State.ToString(), instance.StatusMessage, instance.CreatedAt, instance.UpdatedAt, instance.ExpiresAt),
            operation?.Id, approval?.Id);
    }

    /// <summary>Trimmed, known, valid parameters; refuses unknown names and what the driver rejects.</summary>
    private static Dictionary<string, string> ValidParameters(IServiceDriver driver, Dictionary<string, string>? given)
    {
        var parameters = (given ?? []).Where(kv => !string.IsNullOrWhiteSpace(kv.Value))
            .ToDictionary(kv => kv.Key, kv => kv.Value.Trim(), StringComparer.Ordinal);
        var known = driver.InstanceParameters.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var validator = new Validator();
        foreach (var name in parameters.Keys.Where(n => !known.Contains(n)))
        {
            validator.Require(false, $"parameters.{name}",
                $"Unknown parameter '{name}'. {(known.Count == 0 ? "This offering takes none." : $"It takes: {string.Join(", ", known)}.")}");
        }

        foreach (var field in driver.InstanceParameters.Where(f => f.Required && !parameters.ContainsKey(f.Name)))
        {
            validator.Require(false, $"parameters.{field.Name}", $"Give {field.Label}: {field.Help}");
        }

        validator.ThrowIfInvalid();
        foreach (var (name, error) in driver.ValidateParameters(parameters))
        {
            validator.Require(false, $"parameters.{name}", error);
        }

        // Every URL in the parameters is read strictly, whether the backend or only browsers will follow it.
        foreach (var url in driver.ParameterUrls(parameters))
        {
            var error = EgressUrl.TryParse(url.Url, out _);
            validator.Require(error is null, $"parameters.{url.Parameter}", $"{url.Url}: {error}");
        }

        validator.ThrowIfInvalid();
        return parameters;
    }

    /// <summary>The parameter URLs the instance's backend will connect to, by field, for <see cref="EgressGuard"/>.</summary>
    public static IEnumerable<(string Field, string Url)> EgressUrls(IServiceDriver driver, IReadOnlyDictionary<string, string> parameters) =>
        driver.ParameterUrls(parameters).Where(u => u.Connects).Select(u => ($"parameters.{u.Parameter}", u.Url));
}
