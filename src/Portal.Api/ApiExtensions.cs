using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Portal.Api.Auth;
using Microsoft.OpenApi;
using Portal.Api.V1;
using Portal.Application.Access;

namespace Portal.Api;

public static class ApiExtensions
{
    /// <summary>Problem Details for every error, and the OpenAPI document.</summary>
    public static IHostApplicationBuilder AddPortalApi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(o => StrictJson.Configure(o.SerializerOptions));
        // A body or query value that does not bind throws, so the exception handler answers Problem Details saying what
        // is wrong and where (by default only Development does; elsewhere the 400 has no body).
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<ProblemDetailsExceptionHandler>();
        builder.Services.AddOpenApi("v1", o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Portal API";
            doc.Info.Description = "Self-service baseline services. Authenticate with a bearer token from /connect/token " +
                                   "(client credentials of a team service account).";
            // Declare how to get a token, so the reference page can fetch one and every operation needs one.
            doc.Components ??= new OpenApiComponents();
            doc.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            doc.Components.SecuritySchemes["oauth2"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.OAuth2,
                Description = "Client credentials of a team (or platform) service account.",
                Flows = new OpenApiOAuthFlows
                {
                    ClientCredentials = new OpenApiOAuthFlow
                    {
                        TokenUrl = new Uri("/connect/token", UriKind.Relative),
                        Scopes = new Dictionary<string, string> { [PortalScopes.Api] = "The Portal API" },
                    },
                },
            };
            doc.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("oauth2", doc)] = [PortalScopes.Api] }];
            return Task.CompletedTask;
        }));
        return builder;
    }

    /// <summary>REST v1: every route needs a bearer token with the portal API scope.</summary>
    public static IEndpointRouteBuilder MapPortalApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1")
            .RequireAuthorization(AuthExtensions.ApiPolicy)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithInputRules();
        api.MapTeamsApi();
        api.MapCatalogApi();
        api.MapInstancesApi();
        api.MapOperationsApi();
        api.MapUsersApi();
        api.MapAuditApi();
        api.MapApprovalsApi();
        api.MapWebhooksApi();
        api.MapEgressApi();
        api.MapNotificationsApi();
        api.MapObservabilityApi();
        api.MapBindingFormatsApi();
        api.MapCertificatesApi();
        // Unknown API paths answer Problem Details too, not an HTML page. The fallback declares that it takes JSON, as the
        // routes with a body do: routing sends a request without a Content-Type only to the routes that accept any type
        // when one of them does, so a fallback accepting any type took a POST without a body from its route and answered
        // "no such route" instead of the route's 400 (dotnet/aspnetcore#41060).
        api.MapFallback(() => TypedResults.Problem(statusCode: 404, title: "Not found", detail: "No such API route."))
            .WithMetadata(new AcceptsMetadata(["application/json"]));
        app.MapReadApi();
        app.MapBindingDownloads();
        app.MapCaDownload();
        return app;
    }

    /// <summary>Checks query strings, route values and the JSON body against <see cref="Application.Common.InputRules"/> first.</summary>
    public static TBuilder WithInputRules<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory(InputRulesFilter.Create);
}
