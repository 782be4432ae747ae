using System.Net;
using System.Net.Http.Headers;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// The read API (<c>/read/v1/bindings/{id}/…</c>) answers only a binding's own read token, and the same 401
/// for a wrong token, an unknown binding and a binding of a kind without one.
/// </summary>
public sealed class ReadApiTests(ReadApiTests.Fixture fixture) : IClassFixture<ReadApiTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    [Fact]
    public async Task ReadApi_WithoutAValidReadToken_Is401ProblemDetails_AndMembersGet409ForKindsWithoutLogs()
    {
        var (dev, teamId) = await fixture.DemoDeveloperAsync();
        var (instanceId, _) = await dev.RequestReadyAsync(teamId, "postgresql", "small", "no-logs-db");
        var (bindingId, credentials) = await dev.BindReadyAsync(instanceId, "app");
        Assert.Null(credentials["readToken"]);

        using var anonymous = fixture.CreateClient();
        foreach (var (id, token) in new[] { (bindingId, (string?)null), (bindingId, "prt_wrong"), (Guid.NewGuid(), "prt_wrong") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/read/v1/bindings/{id}/logs");
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            using var response = await anonymous.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        var (status, problem, _) = await dev.SendAsync(HttpMethod.Get, $"/api/v1/instances/{instanceId}/logs");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("no such data", problem!["detail"]!.GetValue<string>());
        (status, _, _) = await dev.SendAsync(HttpMethod.Get, $"/api/v1/instances/{Guid.NewGuid()}/targets");
        Assert.Equal(HttpStatusCode.NotFound, status);
        (status, problem, _) = await dev.SendAsync(HttpMethod.Get, $"/api/v1/instances/{instanceId}/metrics/not%20a%20metric");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(problem!["errors"]!["metric"]);
    }
}
