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
        for (var i = 0; i < rules.Count; i++)
        {
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
