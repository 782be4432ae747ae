using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Approvals;
using Portal.Domain.Instances;

namespace Portal.Application.Approvals;

public sealed record ApproverGroupView(string Name, string? Description, IReadOnlyList<string> Members);

/// <param name="Members">The members' e-mail addresses (or service account client ids).</param>
public sealed record SetApproverGroup(string? Description, IReadOnlyList<string> Members);

/// <summary>Named approver groups for policy stages. Platform admins manage them; everyone may read them.</summary>
public sealed class ApproverGroupsHandler(IDbContextFactory<PortalDbContext> dbFactory, UserManager<PortalUser> users, TimeProvider clock)
{
    public async Task<IReadOnlyList<ApproverGroupView>> ListAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var groups = await db.ApproverGroups.AsNoTracking().OrderBy(g => g.Name).ToListAsync(ct);
        var ids = groups.SelectMany(g => g.Members).Distinct().ToList();
        var names = await db.Users.Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Email ?? u.UserName ?? u.Id.ToString(), ct);
        return groups.Select(g => new ApproverGroupView(g.Name, g.Description, g.Members.Select(m => names.GetValueOrDefault(m, m.ToString())).ToList())).ToList();
    }

    /// <summary>Creates or replaces a group with exactly these members.</summary>
    public async Task<ApproverGroupView> SetAsync(Actor actor, string name, SetApproverGroup request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator().Require(ResourceName.IsValid(name), "name", $"A group name must be {ResourceName.Rule}.").ThrowIfInvalid();
        var members = new List<Guid>();
        foreach (var who in request.Members ?? [])
        {
            var user = await users.FindByEmailAsync(who.Trim()) ?? await users.FindByNameAsync(who.Trim())
                ?? throw ValidationException.For("members", $"No account is called '{who}'.");
            members.Add(user.Id);
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var group = await db.ApproverGroups.FirstOrDefaultAsync(g => g.Name == name, ct);
        if (group is null)
        {
            db.ApproverGroups.Add(group = new ApproverGroup { Name = name });
        }

        group.Description = request.Description?.Trim();
        group.Members = members.Distinct().ToList();
        db.Audit(actor, clock.GetUtcNow(), "approver-group.set", "approver-group", name, null, string.Join(", ", request.Members ?? []));
        await db.SaveChangesAsync(ct);
        return new ApproverGroupView(name, group.Description, request.Members ?? []);
    }

    public async Task DeleteAsync(Actor actor, string name, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var group = await db.ApproverGroups.FirstOrDefaultAsync(g => g.Name == name, ct) ?? throw new NotFoundException("Approver group");
        var rules = await db.ApprovalRules.AsNoTracking().ToListAsync(ct);
        if (rules.Any(r => r.Stages.Any(s => s.Approvers == ApproverKind.Group && s.Group == name)))
        {
            throw new ConflictException($"The approval policy uses the group '{name}'; change the policy first.");
        }

        db.ApproverGroups.Remove(group);
        db.Audit(actor, clock.GetUtcNow(), "approver-group.deleted", "approver-group", name, null, null);
        await db.SaveChangesAsync(ct);
    }
}
