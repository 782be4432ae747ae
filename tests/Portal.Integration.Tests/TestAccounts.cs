using Portal.Application.Accounts;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>Signed-in API clients for the tests: team and platform service accounts with real tokens.</summary>
internal static class TestAccounts
{
    /// <summary>A service account of the team with the role, signed in with client credentials.</summary>
    public static async Task<(ApiClient Api, ServiceAccountCreated Account)> TeamAccountAsync(this PortalAppFactory fixture, Guid teamId, string role)
    {
        var admin = await fixture.AdminAsync();
        var account = await fixture.RunAsync<CreateServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, teamId, new CreateServiceAccount($"ci-{role}", role)));
        return (await ApiClient.SignInAsync(fixture.CreateClient(), account.ClientId, account.ClientSecret), account);
    }

    /// <summary>A platform service account (platform-admin), signed in.</summary>
    public static async Task<(ApiClient Api, ServiceAccountCreated Account)> PlatformAccountAsync(this PortalAppFactory fixture, string name)
    {
        var admin = await fixture.AdminAsync();
        var account = await fixture.RunAsync<CreatePlatformServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, new CreatePlatformServiceAccount(name)));
        return (await ApiClient.SignInAsync(fixture.CreateClient(), account.ClientId, account.ClientSecret), account);
    }

    /// <summary>The seeded demo team's id.</summary>
    public static async Task<Guid> DemoTeamIdAsync(this PortalAppFactory fixture)
    {
        var admin = await fixture.AdminAsync();
        var teams = await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin));
        return teams.Single(t => t.Slug == "demo").Id;
    }

    /// <summary>A developer service account of the demo team, signed in, and the team's id.</summary>
    public static async Task<(ApiClient Api, Guid TeamId)> DemoDeveloperAsync(this PortalAppFactory fixture)
    {
        var teamId = await fixture.DemoTeamIdAsync();
        return ((await fixture.TeamAccountAsync(teamId, "developer")).Api, teamId);
    }
}
