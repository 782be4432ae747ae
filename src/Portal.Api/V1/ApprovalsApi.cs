using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Accounts;
using Portal.Application.Approvals;
using Portal.Application.Common;

namespace Portal.Api.V1;

public static class ApprovalsApi
{
    public static RouteGroupBuilder MapApprovalsApi(this RouteGroupBuilder api)
    {
        var approvals = api.MapGroup("/approvals").WithTags("Approvals");
        approvals.MapGet("/", ListApprovals).WithSummary("Your inbox: pending requests you may decide now (mine=true: your own requests)");
        approvals.MapGet("/{requestId:guid}", GetApproval).WithSummary("One approval request with its stages and decisions");
        approvals.MapPost("/{requestId:guid}/approve", Approve).WithSummary("Approve the current stage, with a comment");
        approvals.MapPost("/{requestId:guid}/reject", Reject).WithSummary("Reject the request, with a comment");

        var policy = api.MapGroup("/approval-policy").WithTags("Approvals");
        policy.MapGet("/", GetPolicy).WithSummary("The approval policy: ordered rules, first match wins (platform admins and approvers)");
        policy.MapPut("/", ReplacePolicy).WithSummary("Replace the whole policy (platform admins)");

        var groups = api.MapGroup("/approver-groups").WithTags("Approvals");
        groups.MapGet("/", ListGroups).WithSummary("Approver groups and their members (platform admins and approvers)");
        groups.MapPut("/{name}", SetGroup).WithSummary("Create or replace an approver group, members by e-mail or client id (platform admins)");
        groups.MapDelete("/{name}", DeleteGroup).WithSummary("Delete an approver group the policy does not use (platform admins)");

        api.MapPut("/users/{userId:guid}/roles", SetRoles).WithTags("Users").WithSummary("Set an account's platform roles (platform admins)");
        return api;
    }

    public sealed record Comment([Text(2000, MultiLine = true)] string Text);

    public sealed record Roles(string[] PlatformRoles);

    public static async Task<Ok<IReadOnlyList<ApprovalView>>> ListApprovals(HttpContext http, ListApprovalsHandler handler, CancellationToken ct, bool mine = false) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), mine, ct));

    public static async Task<Ok<ApprovalView>> GetApproval(HttpContext http, Guid requestId, GetApprovalHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), requestId, ct));

    public static async Task<Ok<ApprovalView>> Approve(HttpContext http, Guid requestId, Comment comment, DecideApprovalHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), requestId, new Decide(true, comment.Text), ct));

    public static async Task<Ok<ApprovalView>> Reject(HttpContext http, Guid requestId, Comment comment, DecideApprovalHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), requestId, new Decide(false, comment.Text), ct));

    public static async Task<Ok<IReadOnlyList<ApprovalRuleView>>> GetPolicy(HttpContext http, GetApprovalPolicyHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), ct));

    public static async Task<Ok<IReadOnlyList<ApprovalRuleView>>> ReplacePolicy(
        HttpContext http, ApprovalRuleView[] rules, ReplaceApprovalPolicyHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), rules, ct));

    public static async Task<Ok<IReadOnlyList<ApproverGroupView>>> ListGroups(HttpContext http, ListApproverGroupsHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), ct));

    public static async Task<Ok<ApproverGroupView>> SetGroup(
        HttpContext http, string name, SetApproverGroup request, SetApproverGroupHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), name, request, ct));

    public static async Task<NoContent> DeleteGroup(HttpContext http, string name, DeleteApproverGroupHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), name, ct);
        return TypedResults.NoContent();
    }

    public static async Task<Ok<UserView>> SetRoles(HttpContext http, Guid userId, Roles roles, SetPlatformRolesHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), userId, roles.PlatformRoles, ct));
}
