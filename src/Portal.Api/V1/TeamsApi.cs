using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Bindings;
using Portal.Application.Quotas;
using Portal.Application.Teams;

namespace Portal.Api.V1;

public static class TeamsApi
{
    public static RouteGroupBuilder MapTeamsApi(this RouteGroupBuilder api)
    {
        var teams = api.MapGroup("/teams").WithTags("Teams");
        teams.MapGet("/", ListTeams).WithSummary("The teams you belong to");
        teams.MapPost("/", CreateTeam).WithSummary("Create a team; you become its owner");
        teams.MapGet("/{teamId:guid}", GetTeam).WithSummary("A team with its members");
        teams.MapDelete("/{teamId:guid}", DeleteTeam)
            .WithSummary("Delete a team with no live instance; its service accounts, webhooks and finished instances' records go with it (owners)");
        teams.MapPut("/{teamId:guid}/members", SetMember).WithSummary("Add a member by e-mail, or change a member's role (owners)");
        teams.MapDelete("/{teamId:guid}/members/{userId:guid}", RemoveMember).WithSummary("Remove a member (owners)");
        teams.MapPost("/{teamId:guid}/service-accounts", CreateServiceAccount)
            .WithSummary("Create a service account; its client secret is shown once (owners)");
        teams.MapDelete("/{teamId:guid}/service-accounts/{userId:guid}", DeleteServiceAccount)
            .WithSummary("Delete a service account and its client (owners)");
        teams.MapGet("/{teamId:guid}/quota", GetQuota).WithSummary("The team's quota and its use");
        teams.MapGet("/{teamId:guid}/bindings", ListBindings)
            .WithSummary("The team's live bindings: generation, last and next rotation, certificate expiry (no credentials)");
        teams.MapPut("/{teamId:guid}/quota", SetQuota).WithSummary("Override the team's quota; null limits fall back to the defaults (platform admins)");
        return api;
    }

    public static async Task<Ok<IReadOnlyList<TeamBindingView>>> ListBindings(
        HttpContext http, Guid teamId, ListTeamBindingsHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), teamId, ct));

    public static async Task<Ok<TeamQuotaView>> GetQuota(HttpContext http, Guid teamId, GetTeamQuotaHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), teamId, ct));

    public static async Task<Ok<TeamQuotaView>> SetQuota(HttpContext http, Guid teamId, SetTeamQuota request, SetTeamQuotaHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), teamId, request, ct));

    public static async Task<Ok<IReadOnlyList<TeamSummary>>> ListTeams(HttpContext http, ListTeamsHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), ct));

    public static async Task<Created<TeamSummary>> CreateTeam(HttpContext http, CreateTeam request, CreateTeamHandler handler, CancellationToken ct)
    {
        var team = await handler.HandleAsync(http.Actor(), request, ct);
        return TypedResults.Created($"/api/v1/teams/{team.Id}", team);
    }

    public static async Task<Ok<TeamDetails>> GetTeam(HttpContext http, Guid teamId, GetTeamHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), teamId, ct));

    public static async Task<Ok<TeamMemberView>> SetMember(
        HttpContext http, Guid teamId, SetMember request, SetMemberHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), teamId, request, ct));

    public static async Task<NoContent> RemoveMember(HttpContext http, Guid teamId, Guid userId, RemoveMemberHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), teamId, userId, ct);
        return TypedResults.NoContent();
    }

    public static async Task<Created<ServiceAccountCreated>> CreateServiceAccount(
        HttpContext http, Guid teamId, CreateServiceAccount request, CreateServiceAccountHandler handler, CancellationToken ct)
    {
        var account = await handler.HandleAsync(http.Actor(), teamId, request, ct);
        return TypedResults.Created($"/api/v1/teams/{teamId}", account);
    }

    public static async Task<NoContent> DeleteServiceAccount(
        HttpContext http, Guid teamId, Guid userId, DeleteServiceAccountHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), teamId, userId, ct);
        return TypedResults.NoContent();
    }

    public static async Task<NoContent> DeleteTeam(HttpContext http, Guid teamId, DeleteTeamHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), teamId, ct);
        return TypedResults.NoContent();
    }
}
