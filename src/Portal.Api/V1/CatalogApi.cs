using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Backends;
using Portal.Application.Catalog;

namespace Portal.Api.V1;

public static class CatalogApi
{
    public sealed record SetBackends(IReadOnlyList<Guid> BackendIds);

    public static RouteGroupBuilder MapCatalogApi(this RouteGroupBuilder api)
    {
        var offerings = api.MapGroup("/offerings").WithTags("Catalog");
        offerings.MapGet("/", ListOfferings).WithSummary("The catalog: offerings with their plans (includeRetired=true: also retired plans, platform admins)");
        offerings.MapPost("/{offeringId:guid}/plans", AddPlan).WithSummary("Add a plan (platform admins)");
        offerings.MapPost("/{offeringId:guid}/plans/{planId:guid}/retire", RetirePlan)
            .WithSummary("Take a plan out of the catalog; instances on it keep it (platform admins)");
        offerings.MapPost("/{offeringId:guid}/plans/{planId:guid}/reinstate", ReinstatePlan).WithSummary("Put a retired plan back in the catalog (platform admins)");
        offerings.MapDelete("/{offeringId:guid}/plans/{planId:guid}", DeletePlan)
            .WithSummary("Delete a plan no instance ever used; 409 for one in use or in history (retire it) (platform admins)");
        offerings.MapPut("/{offeringId:guid}/backends", SetOfferingBackends)
            .WithSummary("Set the backends new instances may be placed on (platform admins)");

        var backends = api.MapGroup("/backends").WithTags("Backends");
        backends.MapGet("/", ListBackends).WithSummary("Backend servers (platform admins)");
        backends.MapPost("/", RegisterBackend).WithSummary("Register a backend server; the admin password is stored encrypted (platform admins)");
        backends.MapPut("/{backendId:guid}", UpdateBackend).WithSummary("Change a backend's address or admin credentials (platform admins)");
        backends.MapPost("/{backendId:guid}/test", TestBackend).WithSummary("Test the connection to a backend (platform admins)");
        backends.MapPost("/{backendId:guid}/retire", RetireBackend)
            .WithSummary("Place no new instances on a backend; its instances stay (platform admins)");
        backends.MapPost("/{backendId:guid}/reinstate", ReinstateBackend).WithSummary("Put a retired backend back in placement (platform admins)");
        backends.MapDelete("/{backendId:guid}", DeleteBackend)
            .WithSummary("Delete a backend no instance was ever placed on; 409 for one with instances (retire it) (platform admins)");
        return api;
    }

    public static async Task<Ok<IReadOnlyList<OfferingView>>> ListOfferings(
        HttpContext http, ListOfferingsHandler handler, CancellationToken ct, bool includeRetired = false) =>
        TypedResults.Ok(includeRetired ? await handler.HandleAsync(http.Actor(), includeRetired, ct) : await handler.HandleAsync(ct));

    public static async Task<Ok<PlanView>> RetirePlan(HttpContext http, Guid offeringId, Guid planId, RetirePlanHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.RetireAsync(http.Actor(), offeringId, planId, ct));

    public static async Task<Ok<PlanView>> ReinstatePlan(HttpContext http, Guid offeringId, Guid planId, RetirePlanHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.ReinstateAsync(http.Actor(), offeringId, planId, ct));

    public static async Task<NoContent> DeletePlan(HttpContext http, Guid offeringId, Guid planId, DeletePlanHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), offeringId, planId, ct);
        return TypedResults.NoContent();
    }

    public static async Task<Created<PlanView>> AddPlan(HttpContext http, Guid offeringId, AddPlan request, AddPlanHandler handler, CancellationToken ct)
    {
        var plan = await handler.HandleAsync(http.Actor(), offeringId, request, ct);
        return TypedResults.Created("/api/v1/offerings", plan);
    }

    public static async Task<Ok<OfferingView>> SetOfferingBackends(
        HttpContext http, Guid offeringId, SetBackends request, SetOfferingBackendsHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), offeringId, request.BackendIds ?? [], ct));

    public static async Task<Ok<IReadOnlyList<BackendView>>> ListBackends(HttpContext http, ListBackendsHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), ct));

    public static async Task<Created<BackendView>> RegisterBackend(
        HttpContext http, RegisterBackend request, RegisterBackendHandler handler, CancellationToken ct)
    {
        var backend = await handler.HandleAsync(http.Actor(), request, ct);
        return TypedResults.Created($"/api/v1/backends/{backend.Id}", backend);
    }

    public static async Task<Ok<BackendView>> UpdateBackend(
        HttpContext http, Guid backendId, UpdateBackend request, UpdateBackendHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), backendId, request, ct));

    public static async Task<Ok<BackendView>> TestBackend(HttpContext http, Guid backendId, TestBackendHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), backendId, ct));

    public static async Task<Ok<BackendView>> RetireBackend(HttpContext http, Guid backendId, RetireBackendHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.RetireAsync(http.Actor(), backendId, ct));

    public static async Task<Ok<BackendView>> ReinstateBackend(HttpContext http, Guid backendId, RetireBackendHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.ReinstateAsync(http.Actor(), backendId, ct));

    public static async Task<NoContent> DeleteBackend(HttpContext http, Guid backendId, DeleteBackendHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), backendId, ct);
        return TypedResults.NoContent();
    }
}
