using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Instances;
using Portal.Domain.Teams;

namespace Portal.Application.Teams;

public sealed record CreateTeam(string Name, string? Slug);

/// <summary>Any person may start a team; they become its first owner.</summary>
public sealed partial class CreateTeamHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task<TeamSummary> HandleAsync(Actor actor, CreateTeam request, CancellationToken ct = default)
    {
        var name = request.Name?.Trim() ?? "";
        var slug = string.IsNullOrWhiteSpace(request.Slug) ? Slugify(name) : request.Slug.Trim();
        new Validator()
            .Input(request)
            .Require(name.Length is >= 2 and <= 100, "name", "Give the team a name of 2 to 100 characters.")
            .Require(ResourceName.IsValid(slug), "slug", $"The team's short name must be {ResourceName.Rule}.")
            .ThrowIfInvalid();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.Users.AnyAsync(u => u.Id == actor.UserId && u.ClientId != null, ct))
        {
            throw new ForbiddenException("Service accounts cannot create teams.");
        }

        if (await db.Teams.AnyAsync(t => t.Slug == slug, ct))
        {
            throw new ConflictException($"A team with the short name '{slug}' exists already.");
        }

        var now = clock.GetUtcNow();
        var team = new Team { Slug = slug, Name = name, CreatedAt = now };
        team.Members.Add(new TeamMember { TeamId = team.Id, UserId = actor.UserId, Role = TeamRole.Owner, AddedAt = now });
        db.Teams.Add(team);
        db.Audit(actor, now, "team.created", "team", team.Id, team.Id, $"{team.Name} ({team.Slug})");
        await db.SaveOrConflictAsync($"A team with the short name '{slug}' exists already.", ct);
        return new TeamSummary(team.Id, team.Slug, team.Name, TeamRole.Owner.ToWire(), 1);
    }

    public static string Slugify(string name)
    {
        var slug = NonSlug().Replace(name.ToLowerInvariant(), "-").Trim('-');
        return slug.Length > 40 ? slug[..40].TrimEnd('-') : slug;
    }

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NonSlug();
}
