using System.Net;
using Portal.Application.Accounts;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>Platform administration and team management through the REST API, with real tokens.</summary>
public sealed class AdminAndTeamApiTests(AdminAndTeamApiTests.Fixture fixture) : IClassFixture<AdminAndTeamApiTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private async Task<ApiClient> PlatformClientAsync()
    {
        var admin = await fixture.AdminAsync();
        var account = await fixture.RunAsync<CreatePlatformServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, new CreatePlatformServiceAccount("platform-ci")));
        return await ApiClient.SignInAsync(fixture.CreateClient(), account.ClientId, account.ClientSecret);
    }

    private async Task<(ApiClient Api, Guid TeamId, ServiceAccountCreated Account)> TeamClientAsync(string role)
    {
        var admin = await fixture.AdminAsync();
        var teams = await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin));
        var teamId = teams.Single(t => t.Slug == "demo").Id;
        var account = await fixture.RunAsync<CreateServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, teamId, new CreateServiceAccount($"ci-{role}", role)));
        return (await ApiClient.SignInAsync(fixture.CreateClient(), account.ClientId, account.ClientSecret), teamId, account);
    }

    [Fact]
    public async Task RegisterBackend_AsPlatformServiceAccount_StoresItAndTestsTheRealServer()
    {
        var api = await PlatformClientAsync();
        var backend = TestEnvironment.Backend;

        var (status, body, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/backends",
            new { name = "", kind = "mysql", host = "not a host", port = 0, adminUser = "", adminPassword = "" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        foreach (var field in new[] { "name", "kind", "host", "port", "adminUser", "adminPassword" })
        {
            Assert.NotNull(body!["errors"]![field]);
        }

        (status, body, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/backends",
            new { name = "site-b-postgres", kind = "postgresql", host = backend.Host, port = backend.Port, adminUser = backend.Username, adminPassword = backend.Password });
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Null(body!["adminPassword"]);
        Assert.DoesNotContain(backend.Password!, body.ToJsonString());
        var id = body["id"]!.GetValue<string>();

        var tested = await api.SendAsync(HttpMethod.Post, $"/api/v1/backends/{id}/test");
        Assert.Equal(HttpStatusCode.OK, tested.Status);
        Assert.True(tested.Body!["lastCheckHealthy"]!.GetValue<bool>(), tested.Body.ToJsonString());
        Assert.Contains("PostgreSQL", tested.Body["lastCheckMessage"]!.GetValue<string>());

        (status, body, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/backends",
            new { name = "wrong-password", kind = "postgresql", host = backend.Host, port = backend.Port, adminUser = backend.Username, adminPassword = "wrong" });
        Assert.Equal(HttpStatusCode.Created, status);
        tested = await api.SendAsync(HttpMethod.Post, $"/api/v1/backends/{body!["id"]!.GetValue<string>()}/test");
        Assert.False(tested.Body!["lastCheckHealthy"]!.GetValue<bool>());
        Assert.Contains("password", tested.Body["lastCheckMessage"]!.GetValue<string>());

        (status, _, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/backends",
            new { name = "site-b-postgres", kind = "postgresql", host = backend.Host, port = backend.Port, adminUser = "x", adminPassword = "y" });
        Assert.Equal(HttpStatusCode.Conflict, status);
    }

    [Fact]
    public async Task AdminApi_AsTeamServiceAccount_Gets403()
    {
        var (api, _, _) = await TeamClientAsync("owner");
        foreach (var url in new[] { "/api/v1/backends", "/api/v1/users" })
        {
            var (status, body, _) = await api.SendAsync(HttpMethod.Get, url);
            Assert.Equal(HttpStatusCode.Forbidden, status);
            Assert.Equal(403, body!["status"]!.GetValue<int>());
        }
    }

    [Fact]
    public async Task TeamMembers_OwnerAddsPersonAsViewer_ViewerRoleIsKeptAndLastOwnerStays()
    {
        var platform = await PlatformClientAsync();
        var (created, body, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/users",
            new { email = "dana@example.com", displayName = "Dana", isPlatformAdmin = false });
        Assert.Equal(HttpStatusCode.Created, created);
        Assert.True(body!["password"]!.GetValue<string>().Length >= 12);

        var (owner, teamId, _) = await TeamClientAsync("owner");
        var (status, member, _) = await owner.SendAsync(HttpMethod.Put, $"/api/v1/teams/{teamId}/members", new { email = "dana@example.com", role = "viewer" });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("viewer", member!["role"]!.GetValue<string>());

        var team = await owner.GetOkAsync($"/api/v1/teams/{teamId}");
        Assert.Contains(team["members"]!.AsArray(), m => m!["email"]!.GetValue<string>() == "dana@example.com" && m["role"]!.GetValue<string>() == "viewer");

        (status, _, _) = await owner.SendAsync(HttpMethod.Put, $"/api/v1/teams/{teamId}/members", new { email = "dana@example.com", role = "1" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _, _) = await owner.SendAsync(HttpMethod.Put, $"/api/v1/teams/{teamId}/members", new { email = "nobody@example.com", role = "viewer" });
        Assert.Equal(HttpStatusCode.BadRequest, status);

        // A team keeps at least one owner: demoting the only one is refused.
        var admin = await fixture.AdminAsync();
        var teamWithOneOwner = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Solo", null)));
        var (demote, problem, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/teams/{teamWithOneOwner.Id}/members",
            new { email = fixture.AdminEmail, role = "developer" });
        Assert.Equal(HttpStatusCode.Conflict, demote);
        Assert.Contains("owner", problem!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task DeleteServiceAccount_RevokesItsTokenAtOnce()
    {
        var (api, teamId, account) = await TeamClientAsync("developer");
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(HttpMethod.Get, "/api/v1/instances")).Status);

        var (owner, _, _) = await TeamClientAsync("owner");
        var (status, _, _) = await owner.SendAsync(HttpMethod.Delete, $"/api/v1/teams/{teamId}/service-accounts/{account.UserId}");
        Assert.Equal(HttpStatusCode.NoContent, status);

        Assert.Equal(HttpStatusCode.Unauthorized, (await api.SendAsync(HttpMethod.Get, "/api/v1/instances")).Status);
    }
}
