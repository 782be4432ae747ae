using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Approvals;
using Portal.Domain.Instances;

namespace Portal.Application.Approvals;

/// <param name="Members">The members' e-mail addresses (or service account client ids).</param>
public sealed record SetApproverGroup(
    [Text(InputRules.DescriptionLength, MultiLine = true)] string? Description, [Text(254)] IReadOnlyList<string> Members);

/// <summary>Creates or replaces an approver group with exactly these members. Platform admins only.</summary>
public sealed class SetApproverGroupHandler(IDbContextFactory<PortalDbContext> dbFactory, UserManager<PortalUser> users, TimeProvider clock)
{
    public async Task<ApproverGroupView> HandleAsync(Actor actor, string name, SetApproverGroup request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Input(request)
            .Require(ResourceName.IsValid(name), "name", $"A group name must be {ResourceName.Rule}.")
            .ThrowIfInvalid();
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
}
