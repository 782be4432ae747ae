using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Instances;
using Portal.Application.Operations;

namespace Portal.Api.V1;

public static class OperationsApi
{
    public static RouteGroupBuilder MapOperationsApi(this RouteGroupBuilder api)
    {
        var operations = api.MapGroup("/operations").WithTags("Operations");
        operations.MapGet("/{operationId:guid}", GetOperation).WithSummary("An operation with its progress lines");
        operations.MapGet("/stuck", ListStuck)
            .WithSummary("Unfinished operations requested at least olderThanMinutes ago (default 10), oldest first (platform admins)");
        operations.MapPost("/{operationId:guid}/retry", Retry)
            .WithSummary("Hand an unfinished operation to a worker again, with fresh attempts (platform admins; audited)");
        operations.MapPost("/{operationId:guid}/fail", Fail)
            .WithSummary("End an unfinished operation as Failed with a reason; its instance or binding becomes Failed (platform admins; audited)");
        return api;
    }

    public static async Task<Ok<OperationView>> GetOperation(HttpContext http, Guid operationId, GetOperationHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), operationId, ct));

    public static async Task<Ok<IReadOnlyList<StuckOperationView>>> ListStuck(
        HttpContext http, ListStuckOperationsHandler handler, CancellationToken ct, int? olderThanMinutes = null) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), new ListStuckOperations(olderThanMinutes), ct));

    public static async Task<Ok<OperationView>> Retry(HttpContext http, Guid operationId, RetryOperationHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), operationId, ct));

    public static async Task<Ok<OperationView>> Fail(
        HttpContext http, Guid operationId, FailOperation request, FailOperationHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), operationId, request, ct));
}
