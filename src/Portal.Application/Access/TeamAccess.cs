using Microsoft.EntityFrameworkCore;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Access;

/// <summary>The one place that decides what an actor may do within a team.</summary>
public static class TeamAccess
{
    /// <summary>
    /// Returns the actor's role in the team, or throws. Someone outside the team gets "not found", not
    /// "forbidden", so one team cannot even learn which ids another team's objects have.
    /// </summary>
    public static async Task<TeamRole> RequireAsync(
        this PortalDbContext db, Actor actor, Guid teamId, TeamPermission permission, string what, CancellationToken ct)
    {
        if (actor.IsPlatformAdmin)
        {
            return TeamRole.Owner;
        }

        var role = await db.TeamMembers
            .Where(m => m.TeamId == teamId && m.UserId == actor.UserId)
            .Select(m => (TeamRole?)m.Role)
            .FirstOrDefaultAsync(ct);
        if (role is null)
        {
            throw new NotFoundException(what);
        }

        if (!role.Value.Allows(permission))
        {
            throw new ForbiddenException($"Your role in this team ({role.Value.ToWire()}) does not allow this.");
        }

        return role.Value;
    }

    /// <summary>Keeps the rows of teams the actor belongs to (all rows for platform admins).</summary>
    public static IQueryable<T> VisibleTo<T>(this IQueryable<T> rows, PortalDbContext db, Actor actor, System.Linq.Expressions.Expression<Func<T, Guid>> teamId)
    {
        if (actor.IsPlatformAdmin)
        {
            return rows;
        }

        var memberOf = db.TeamMembers.Where(m => m.UserId == actor.UserId).Select(m => m.TeamId);
        var row = teamId.Parameters[0];
        var contains = System.Linq.Expressions.Expression.Call(
            typeof(Queryable), nameof(Queryable.Contains), [typeof(Guid)], memberOf.Expression, teamId.Body);
        return rows.Where(System.Linq.Expressions.Expression.Lambda<Func<T, bool>>(contains, row));
    }

    public static void RequirePlatformAdmin(this Actor actor)
    {
        if (!actor.IsPlatformAdmin)
        {
            throw new ForbiddenException("Only platform admins may do this.");
        }
    }
}
