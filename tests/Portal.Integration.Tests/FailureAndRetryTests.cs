using System.Net;
using Microsoft.AspNetCore.Hosting;
using Portal.Application.Accounts;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// A backend the portal cannot sign in to: the request fails after its retries with the reason shown,
/// leaves nothing behind, and succeeds when retried once the platform team fixed the backend.
/// </summary>
public sealed class FailureAndRetryTests(FailureAndRetryTests.Fixture fixture) : IClassFixture<FailureAndRetryTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Jobs:RetryBaseDelay", "00:00:00.2");
        }
    }

    [Fact]
    public async Task Provision_OnBackendWithWrongPassword_FailsWithReasonThenRetrySucceedsAfterFix()
    {
        var admin = await fixture.AdminAsync();
        var platformAccount = await fixture.RunAsync<CreatePlatformServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, new CreatePlatformServiceAccount("platform-ci")));
        var platform = await ApiClient.SignInAsync(fixture.CreateClient(), platformAccount.ClientId, platformAccount.ClientSecret);
        var teams = await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin));
        var teamId = teams.Single(t => t.Slug == "demo").Id;
        var devAccount = await fixture.RunAsync<CreateServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, teamId, new CreateServiceAccount("ci", "developer")));
        var dev = await ApiClient.SignInAsync(fixture.CreateClient(), devAccount.ClientId, devAccount.ClientSecret);

        // The platform team points the offering at a backend whose password is wrong.
        var real = TestEnvironment.Backend;
        var (_, backend, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/backends",
            new { name = "rotated", kind = "postgresql", host = real.Host, port = real.Port, adminUser = real.Username, adminPassword = "outdated" });
        var backendId = backend!["id"]!.GetValue<string>();
        var offering = (await platform.GetOkAsync("/api/v1/offerings")).AsArray().Single(o => o!["key"]!.GetValue<string>() == "postgresql")!;
        var (status, _, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/offerings/{offering["id"]}/backends", new { backendIds = new[] { backendId } });
        Assert.Equal(HttpStatusCode.OK, status);

        var (requested, body, _) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering = "postgresql", plan = "small", name = "unlucky-db" });
        Assert.Equal(HttpStatusCode.Accepted, requested);
        var id = body!["value"]!["id"]!.GetValue<string>();
        var failed = await dev.WaitForAsync($"/api/v1/instances/{id}",
            i => i["instance"]!["state"]!.GetValue<string>() == "Failed", "the instance to fail", seconds: 30);

        // The team reads a safe message with the operation id; the driver's words (the backend's admin user) are for
        // platform admins, in the operator API.
        var provision = failed["operations"]!.AsArray().Single()!;
        var operationId = provision["id"]!.GetValue<string>();
        var statusMessage = failed["instance"]!["statusMessage"]!.GetValue<string>();
        Assert.Contains("platform admins can see the details", statusMessage);
        Assert.Contains(operationId, statusMessage);
        var notifications = (await dev.GetOkAsync("/api/v1/notifications")).ToJsonString();
        Assert.Contains("platform admins can see the details", notifications);
        foreach (var teamView in new[] { failed.ToJsonString(), notifications, (await dev.GetOkAsync($"/api/v1/operations/{operationId}")).ToJsonString() })
        {
            Assert.DoesNotContain("password authentication failed", teamView);
            Assert.DoesNotContain("for user", teamView);
            Assert.DoesNotContain(real.Host!, teamView);
        }

        var adminView = await platform.GetOkAsync($"/api/v1/operations/{operationId}");
        Assert.Contains("password authentication failed", adminView["error"]!.GetValue<string>());
        Assert.Contains(real.Username!, adminView["error"]!.GetValue<string>());
        Assert.Equal(3, provision["attempts"]!.GetValue<int>());
        Assert.Equal("Failed", provision["state"]!.GetValue<string>());
        Assert.Equal(2, provision["lines"]!.AsArray().Count(l => l!["message"]!.GetValue<string>().Contains("retrying")));
        Assert.Equal(HttpStatusCode.Conflict, (await dev.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/bindings", new { appName = "app" })).Status);

        // The platform team fixes the password; the team retries; the same instance becomes Ready.
        (status, _, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/backends/{backendId}",
            new { host = real.Host, port = real.Port, adminUser = real.Username, adminPassword = real.Password });
        Assert.Equal(HttpStatusCode.OK, status);
        var (retried, _, response) = await dev.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/retry");
        Assert.Equal(HttpStatusCode.Accepted, retried);
        Assert.StartsWith("/api/v1/operations/", response.Headers.Location!.OriginalString);
        await dev.WaitForAsync($"/api/v1/instances/{id}", i => i["instance"]!["state"]!.GetValue<string>() == "Ready", "the retried instance to be Ready");

        Assert.Equal(HttpStatusCode.Conflict, (await dev.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/retry")).Status);
        (status, _, _) = await dev.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{id}");
        Assert.Equal(HttpStatusCode.Accepted, status);
        await dev.WaitForAsync($"/api/v1/instances/{id}", i => i["instance"]!["state"]!.GetValue<string>() == "Deleted", "the instance to be deleted");
    }
}
