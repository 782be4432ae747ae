using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Bindings;
using Portal.Application.Instances;
using Portal.Application.Leases;
using Portal.Application.Operations;
using Portal.Application.Reconcile;

namespace Portal.Api.V1;

public static class InstancesApi
{
    public static RouteGroupBuilder MapInstancesApi(this RouteGroupBuilder api)
    {
        var instances = api.MapGroup("/instances").WithTags("Instances");
        instances.MapGet("/", ListInstances).WithSummary("Instances of your teams, paged (page from 0) and sorted");
        instances.MapPost("/", RequestInstance)
            .WithSummary("Request an instance; answers 202 with the provision operation's URL, or the approval request's when a policy gates it");
        instances.MapGet("/{instanceId:guid}", GetInstance).WithSummary("An instance with its bindings and recent operations");
        instances.MapPost("/{instanceId:guid}/retry", RetryInstance).WithSummary("Run a Failed instance's failed operation again; answers 202");
        instances.MapPost("/{instanceId:guid}/reconcile", ReconcileInstance)
            .WithSummary("Compare the instance with its backend now; a difference makes it Drifted (developers and owners)");
        instances.MapPost("/{instanceId:guid}/repair", RepairInstance)
            .WithSummary("Re-apply a Drifted instance's desired state (resources, limits, its bindings' credentials); answers 202");
        instances.MapPost("/{instanceId:guid}/plan", ChangePlan)
            .WithSummary("Move the instance to another plan; answers 202 with the update operation's URL, or the approval request's");
        instances.MapPost("/{instanceId:guid}/lease", ExtendLease).WithSummary("Move the end of the instance's lease, within its plan's maximum (owners)");
        instances.MapDelete("/{instanceId:guid}", DeleteInstance).WithSummary("Delete an instance; answers 202 with the deprovision operation's URL");

        var bindings = instances.MapGroup("/{instanceId:guid}/bindings").WithTags("Bindings");
        bindings.MapGet("/", ListBindings).WithSummary("The instance's bindings (without secrets)");
        bindings.MapPost("/", CreateBinding).WithSummary("Create credentials for an app; answers 202 with the bind operation's URL");
        bindings.MapGet("/{bindingId:guid}", GetBinding).WithSummary("A binding (without secrets): generation, rotation overlap, certificate expiry");
        bindings.MapGet("/{bindingId:guid}/credentials", RevealCredentials).WithSummary("The binding's credentials (developers and owners)");
        bindings.MapPost("/{bindingId:guid}/rotate", RotateBinding)
            .WithSummary("New credentials for the binding; the current ones keep working for overlapMinutes (0: stop at once). Answers 202");
        bindings.MapPost("/{bindingId:guid}/revoke", DeleteBinding)
            .WithSummary("Revoke a binding at once: every generation of its credentials stops on the backend. Answers 202");
        bindings.MapDelete("/{bindingId:guid}", DeleteBinding).WithSummary("Revoke a binding (same as POST …/revoke); answers 202 with the unbind operation's URL");
        return api;
    }

    private static string OperationUrl(Guid? operationId) => $"/api/v1/operations/{operationId}";

    /// <summary>Where to follow an accepted change: its operation, or the approval request it waits on.</summary>
    private static string FollowUrl<T>(AcceptedChange<T> accepted) =>
        accepted.ApprovalRequestId is { } approval ? $"/api/v1/approvals/{approval}" : OperationUrl(accepted.OperationId);

    public static async Task<Ok<Page<InstanceSummary>>> ListInstances(
        HttpContext http, ListInstancesHandler handler, CancellationToken ct,
        int page = 0, int pageSize = 25, string? sortBy = null, bool descending = true, Guid? teamId = null, string? search = null) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), new ListInstances(page, pageSize, sortBy, descending, teamId, search), ct));

    public static async Task<Accepted<AcceptedChange<InstanceSummary>>> RequestInstance(
        HttpContext http, RequestInstance request, RequestInstanceHandler handler, CancellationToken ct)
    {
        var accepted = await handler.HandleAsync(http.Actor(), request, ct);
        return TypedResults.Accepted(FollowUrl(accepted), accepted);
    }

    public static async Task<Ok<InstanceDetails>> GetInstance(HttpContext http, Guid instanceId, GetInstanceHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), instanceId, ct));

    public static async Task<Accepted<AcceptedChange<InstanceSummary>>> DeleteInstance(
        HttpContext http, Guid instanceId, DeleteInstanceHandler handler, CancellationToken ct)
    {
        var accepted = await handler.HandleAsync(http.Actor(), instanceId, ct);
        return TypedResults.Accepted(FollowUrl(accepted), accepted);
    }

    public static async Task<Accepted<AcceptedChange<InstanceSummary>>> RetryInstance(
        HttpContext http, Guid instanceId, RetryInstanceHandler handler, CancellationToken ct)
    {
        var accepted = await handler.HandleAsync(http.Actor(), instanceId, ct);
        return TypedResults.Accepted(OperationUrl(accepted.OperationId), accepted);
    }

    public static async Task<Accepted<AcceptedChange<InstanceSummary>>> ChangePlan(
        HttpContext http, Guid instanceId, ChangePlan request, ChangePlanHandler handler, CancellationToken ct)
    {
        var accepted = await handler.HandleAsync(http.Actor(), instanceId, request, ct);
        return TypedResults.Accepted(FollowUrl(accepted), accepted);
    }

    public static async Task<Results<Ok<AcceptedChange<InstanceSummary>>, Accepted<AcceptedChange<InstanceSummary>>>> ExtendLease(
        HttpContext http, Guid instanceId, ExtendLease request, ExtendLeaseHandler handler, CancellationToken ct)
    {
        var result = await handler.HandleAsync(http.Actor(), instanceId, request, ct);
        return result.ApprovalRequestId is null ? TypedResults.Ok(result) : TypedResults.Accepted(FollowUrl(result), result);
    }

    public static async Task<Ok<IReadOnlyList<BindingView>>> ListBindings(
        HttpContext http, Guid instanceId, ListBindingsHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), instanceId, ct));

    public static async Task<Accepted<AcceptedChange<BindingView>>> CreateBinding(
        HttpContext http, Guid instanceId, CreateBinding request, CreateBindingHandler handler, CancellationToken ct)
    {
        var accepted = await handler.HandleAsync(http.Actor(), instanceId, request, ct);
        return TypedResults.Accepted(OperationUrl(accepted.OperationId), accepted);
    }

    public static async Task<Ok<BindingCredentialsView>> RevealCredentials(
        HttpContext http, Guid instanceId, Guid bindingId, RevealCredentialsHandler handler, CancellationToken ct)
    {
        // Credentials must not linger in shared caches.
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(await handler.HandleAsync(http.Actor(), instanceId, bindingId, ct));
    }

    public static async Task<Ok<BindingView>> GetBinding(
        HttpContext http, Guid instanceId, Guid bindingId, GetBindingHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), instanceId, bindingId, ct));

    public static async Task<Accepted<AcceptedChange<BindingView>>> RotateBinding(
        HttpContext http, Guid instanceId, Guid bindingId, RotateBinding request, RotateBindingHandler handler, CancellationToken ct)
    {
        var accepted = await handler.HandleAsync(http.Actor(), instanceId, bindingId, request, ct);
        return TypedResults.Accepted(OperationUrl(accepted.OperationId), accepted);
    }

    public static async Task<Accepted<AcceptedChange<BindingView>>> DeleteBinding(
        HttpContext http, Guid instanceId, Guid bindingId, DeleteBindingHandler handler, CancellationToken ct)
    {
        var accepted = await handler.HandleAsync(http.Actor(), instanceId, bindingId, ct);
        return TypedResults.Accepted(OperationUrl(accepted.OperationId), accepted);
    }

    public static async Task<Ok<ReconcileOutcome>> ReconcileInstance(HttpContext http, Guid instanceId, ReconcileInstanceHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), instanceId, ct));

    public static async Task<Accepted<AcceptedChange<InstanceSummary>>> RepairInstance(
        HttpContext http, Guid instanceId, RepairInstanceHandler handler, CancellationToken ct)
    {
        var accepted = await handler.HandleAsync(http.Actor(), instanceId, ct);
        return TypedResults.Accepted(FollowUrl(accepted), accepted);
    }
}
