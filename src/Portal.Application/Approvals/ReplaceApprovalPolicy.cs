using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Approvals;

namespace Portal.Application.Approvals;

/// <summary>Replaces the whole ordered policy at once, so it is never half-edited. Platform admins only.</summary>
public sealed class ReplaceApprovalPolicyHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task<IReadOnlyList<ApprovalRuleView>> HandleAsync(Actor actor, IReadOnlyList<ApprovalRuleView> rules, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        // Nulls and bad text first: the checks below read every rule's stages.
        new Validator().Input(rules, "rules").ThrowIfInvalid();
        var validator = new Validator();
        for (var i = 0; i < rules.Count; i++)
        {
            var r = rules[i];
            var at = $"rules[{i}]";
            validator
                .Require(r.Name?.Trim().Length is >= 2 and <= 100, $"{at}.name", "Give each rule a name of 2 to 100 characters.")
                .Require(r.Environment is null || ApprovalPolicy.Environments.Contains(r.Environment), $"{at}.environment",
                    $"The environment must be one of {string.Join(", ", ApprovalPolicy.Environments)}.")
                .Require(r.MinMonthlyCost is null or >= 0, $"{at}.minMonthlyCost", "The cost threshold cannot be negative.")
                .Require(r.AutoApprove || r.Stages.Count > 0, $"{at}.stages", "A rule either auto-approves or names at least one stage.")
                .Require(r.Stages.All(s => s.RequiredApprovals >= 1), $"{at}.stages", "Each stage needs at least one approval.")
                .Require(r.Stages.All(s => !string.IsNullOrWhiteSpace(s.Name)), $"{at}.stages", "Each stage needs a name.")
                .Require(r.Stages.All(s => s.Approvers != ApproverKind.Group || !string.IsNullOrWhiteSpace(s.Group)), $"{at}.stages",
                    "A stage decided by a group names the group.");
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var groups = await db.ApproverGroups.Select(g => g.Name).ToListAsync(ct);
        var plans = await db.Offerings.AsNoTracking().SelectMany(o => o.Plans.Select(p => new { Offering = o.Key, Plan = p.Key })).ToListAsync(ct);
        var offerings = await db.Offerings.AsNoTracking().Select(o => o.Key).ToListAsync(ct);
        var teamIds = rules.Where(r => r.TeamId is not null).Select(r => r.TeamId!.Value).Distinct().ToList();
        var teams = await db.Teams.AsNoTracking().Where(t => teamIds.Contains(t.Id)).Select(t => t.Id).ToListAsync(ct);
        for (var i = 0; i < rules.Count; i++)
        {
            var r = rules[i];
            validator
                .Require(r.Offering is null || offerings.Contains(r.Offering), $"rules[{i}].offering", $"There is no offering '{r.Offering}'.")
                .Require(r.Plan is null || plans.Any(p => p.Plan == r.Plan && (r.Offering is null || p.Offering == r.Offering)), $"rules[{i}].plan",
                    $"There is no plan '{r.Plan}'{(r.Offering is null ? "" : $" in the offering '{r.Offering}'")}.")
                .Require(r.TeamId is null || teams.Contains(r.TeamId.Value), $"rules[{i}].teamId", "There is no such team.");
            foreach (var missing in rules[i].Stages.Where(s => s.Approvers == ApproverKind.Group && !groups.Contains(s.Group!)))
            {
                validator.Require(false, $"rules[{i}].stages", $"There is no approver group '{missing.Group}'.");
            }
        }

        validator.ThrowIfInvalid();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await db.ApprovalRules.ExecuteDeleteAsync(ct);
        db.ApprovalRules.AddRange(rules.Select((r, i) => new ApprovalRule
        {
            Order = (i + 1) * 10,
            Name = r.Name.Trim(),
            Offering = r.Offering,
            Plan = r.Plan,
            TeamId = r.TeamId,
            Environment = r.Environment,
            MinMonthlyCost = r.MinMonthlyCost,
            Operation = r.Operation,
            AutoApprove = r.AutoApprove,
            Stages = [.. r.Stages],
        }));
        db.Audit(actor, clock.GetUtcNow(), "approval-policy.replaced", "approval-policy", null, null,
            string.Join("; ", rules.Select(r => r.AutoApprove ? $"{r.Name}: auto-approve" : $"{r.Name}: {string.Join(" → ", r.Stages.Select(s => s.Name))}")));
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return rules;
    }
}
