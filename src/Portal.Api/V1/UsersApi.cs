using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portal.Api.Auth;
using Portal.Application.Accounts;
using Portal.Application.Teams;

namespace Portal.Api.V1;

public static class UsersApi
{
    public static RouteGroupBuilder MapUsersApi(this RouteGroupBuilder api)
    {
        var users = api.MapGroup("/users").WithTags("Users");
        users.MapGet("/", ListUsers).WithSummary("Local accounts of people (platform admins)");
        users.MapPost("/", CreateUser).WithSummary("Create a local account; its first password is returned once (platform admins)");
        users.MapDelete("/{userId:guid}", DeleteUser).WithSummary("Delete an account or a platform service account (platform admins)");
        api.MapPost("/platform-service-accounts", CreatePlatformServiceAccount).WithTags("Users")
            .WithSummary("Create a service account with the platform-admin role; its secret is returned once (platform admins)");
        return api;
    }

    public static async Task<Ok<IReadOnlyList<UserView>>> ListUsers(HttpContext http, ListUsersHandler handler, CancellationToken ct) =>
        TypedResults.Ok(await handler.HandleAsync(http.Actor(), ct));

    public static async Task<Created<UserCreated>> CreateUser(HttpContext http, CreateUser request, CreateUserHandler handler, CancellationToken ct)
    {
        var created = await handler.HandleAsync(http.Actor(), request, ct);
        return TypedResults.Created("/api/v1/users", created);
    }

    public static async Task<NoContent> DeleteUser(HttpContext http, Guid userId, DeleteUserHandler handler, CancellationToken ct)
    {
        await handler.HandleAsync(http.Actor(), userId, ct);
        return TypedResults.NoContent();
    }

    public static async Task<Created<ServiceAccountCreated>> CreatePlatformServiceAccount(
        HttpContext http, CreatePlatformServiceAccount request, CreatePlatformServiceAccountHandler handler, CancellationToken ct)
    {
        var created = await handler.HandleAsync(http.Actor(), request, ct);
        return TypedResults.Created("/api/v1/users", created);
    }
}
