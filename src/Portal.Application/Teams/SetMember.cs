using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Teams;

namespace Portal.Application.Teams;

public sealed record SetMember([Text(254)] string Email, string Role);

/// <summary>Adds a member to a team, or changes an existing member's role. Owners only.</summary>
public sealed class SetMemberHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task<TeamMemberView> HandleAsync(Actor actor, Guid teamId, SetMember request, CancellationToken ct = default)
    {
        new Validator()
            .Input(request)
            .Require(!string.IsNullOrWhiteSpace(request.Email), "email", "Name the person by their e-mail address.")
            .Require(TeamRoles.TryParse(request.Role, out var role), "role", "The role must be owner, developer or viewer.")
            .ThrowIfInvalid();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.RequireAsync(actor, teamId, TeamPermission.ManageTeam, "Team", ct);
        var email = request.Email.Trim().ToUpperInvariant();
        var user = await db.Users.FirstOrDefaultAsync(u => u.NormalizedEmail == email, ct)
            ?? throw ValidationException.For("email", $"No account has the e-mail address '{request.Email.Trim()}'.");

        var member = await db.TeamMembers.FirstOrDefaultAsync(m => m.TeamId == teamId && m.UserId == user.Id, ct);
        if (member is null)
        {
            db.TeamMembers.Add(member = new TeamMember { TeamId = teamId, UserId = user.Id, Role = role, AddedAt = clock.GetUtcNow() });
        }
        else
        {
            if (role < member.Role)
            {
                await TeamOwners.EnsureMayChangeAsync(db, actor, member, ct);
            }

            await TeamOwners.EnsureAnOwnerRemainsAsync(db, teamId, member, role == TeamRole.Owner, ct);
            member.Role = role;
        }

        db.Audit(actor, clock.GetUtcNow(), "team.member-set", "team", teamId, teamId, $"{user.Email ?? user.UserName} as {role.ToWire()}");
        await db.SaveOrConflictAsync("The member was changed at the same moment; reload and try again.", ct);
        return new TeamMemberView(user.Id, user.Email ?? "", user.DisplayName, role.ToWire(), user.IsServiceAccount, user.ClientId);
    }
}
