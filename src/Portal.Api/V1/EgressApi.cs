using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Egress;

namespace Portal.Api.V1;

public static class EgressApi
{
    public static RouteGroupBuilder MapEgressApi(this RouteGroupBuilder api)
    {
        var allowList = api.MapGroup("/egress-allow-list").WithTags("Egress");
        allowList.MapGet("/", List).WithSummary("Networks and hosts user-given URLs may reach although the egress policy denies them (platform admins)");
        allowList.MapPost("/", Add).WithSummary("Allow a CIDR, an IP address or a host name, everywhere, for a site or for a backend (platform admins)");
        allowList.MapDelete("/{entryId:guid}", Remove).WithSummary("Remove an allow entry (platform admins)");
        return api;
    }

    public static async Task<Ok<IReadOnlyList<EgressAllowEntryView>>> List(HttpContext http, ListEgressAllowListHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), ct));

    public static async Task<Created<EgressAllowEntryView>> Add(
        HttpContext http, AddEgressAllowEntry request, AddEgressAllowEntryHandler handler, CancellationToken ct)
    {
        var entry = await handler.HandleAsync(http.Actor(), request, ct);
        return TypedResults.Created($"/api/v1/egress-allow-list/{entry.Id}", entry);
    }

    public static async Task<NoContent> Remove(HttpContext http, Guid entryId, RemoveEgressAllowEntryHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), entryId, ct);
        return TypedResults.NoContent();
    }
}
