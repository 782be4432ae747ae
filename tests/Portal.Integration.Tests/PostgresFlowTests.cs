using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// The whole PostgreSQL flow through the REST API, on the real portal (Hangfire running) and the real
/// backend server: request → job → Ready → bind → a real client uses the credentials → unbind → delete.
/// </summary>
public sealed class PostgresFlowTests(PostgresFlowTests.Fixture fixture) : IClassFixture<PostgresFlowTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private async Task<(ApiClient Api, Guid TeamId)> TeamClientAsync(string role = "developer", string? newTeam = null)
    {
        var admin = await fixture.AdminAsync();
        var teams = await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin));
        var teamId = newTeam is null
            ? teams.Single(t => t.Slug == "demo").Id
            : (await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam(newTeam, null)))).Id;
        var account = await fixture.RunAsync<CreateServiceAccountHandler, ServiceAccountCreated>(
            h => h.HandleAsync(admin, teamId, new CreateServiceAccount($"ci-{role}", role)));
        return (await ApiClient.SignInAsync(fixture.CreateClient(), account.ClientId, account.ClientSecret), teamId);
    }

    private static async Task<NpgsqlConnection> ConnectAsync(JsonNode credentials, string? database = null)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = credentials["host"]!.GetValue<string>(),
            Port = int.Parse(credentials["port"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture),
            Username = credentials["username"]!.GetValue<string>(),
            Password = credentials["password"]!.GetValue<string>(),
            Database = database ?? credentials["database"]!.GetValue<string>(),
            Pooling = false,
        };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    [Fact]
    public async Task InstanceLifecycle_WithClientCredentialsToken_ProvisionsBindsUnbindsAndDeprovisionsOnRealServer()
    {
        var (api, teamId) = await TeamClientAsync();
        var (ordersId, orders) = await api.RequestReadyAsync(teamId, "postgresql", "small", "orders-db");
        Assert.Contains(orders["operations"]!.AsArray(), o => o!["kind"]!.GetValue<string>() == "Provision" && o["lines"]!.AsArray().Count > 0);

        var (bindingId, credentials) = await api.BindReadyAsync(ordersId, "orders-api");
        Assert.StartsWith("postgresql://", credentials["uri"]!.GetValue<string>());

        // The binding's credentials work for real: a table is created and used.
        await using (var connection = await ConnectAsync(credentials))
        {
            await using var command = new NpgsqlCommand("CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders VALUES (42); SELECT id FROM orders", connection);
            Assert.Equal(42, await command.ExecuteScalarAsync());
        }

        // …and reach this instance's database only.
        var (otherId, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", "billing-db");
        var otherDatabase = $"pi_{otherId:N}";
        var refused = await Assert.ThrowsAsync<PostgresException>(() => ConnectAsync(credentials, otherDatabase));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);

        // Unbind: the login stops working.
        var (status, _, _) = await api.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{ordersId}/bindings/{bindingId}");
        Assert.Equal(HttpStatusCode.Accepted, status);
        await api.WaitForAsync($"/api/v1/instances/{ordersId}/bindings", list => list.AsArray().Count == 0, "the binding to be gone");
        var loginRefused = await Assert.ThrowsAsync<PostgresException>(() => ConnectAsync(credentials));
        Assert.Contains(loginRefused.SqlState, new[] { PostgresErrorCodes.InvalidPassword, PostgresErrorCodes.InvalidAuthorizationSpecification });

        // Deprovision: the database is gone from the server.
        foreach (var id in new[] { ordersId, otherId })
        {
            (status, _, _) = await api.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{id}");
            Assert.Equal(HttpStatusCode.Accepted, status);
            await api.WaitForAsync($"/api/v1/instances/{id}", i => i["instance"]!["state"]!.GetValue<string>() == "Deleted", "the instance to be Deleted");
        }

        await using var admin = new NpgsqlConnection(TestEnvironment.Backend.ConnectionString);
        await admin.OpenAsync();
        await using var exists = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = ANY($1)", admin);
        exists.Parameters.AddWithValue(new[] { $"pi_{ordersId:N}", otherDatabase });
        Assert.Equal(0L, await exists.ExecuteScalarAsync());
    }

    [Fact]
    public async Task OtherTeam_AsksForInstanceAndBindings_Gets404()
    {
        var (api, teamId) = await TeamClientAsync();
        var (instanceId, _) = await api.RequestReadyAsync(teamId, "postgresql", "small", "private-db");
        var (bindingId, _) = await api.BindReadyAsync(instanceId, "private-app");

        var (stranger, _) = await TeamClientAsync(newTeam: "Strangers");
        foreach (var url in new[]
                 {
                     $"/api/v1/instances/{instanceId}",
                     $"/api/v1/instances/{instanceId}/bindings",
                     $"/api/v1/instances/{instanceId}/bindings/{bindingId}/credentials",
                 })
        {
            var (status, body, response) = await stranger.SendAsync(HttpMethod.Get, url);
            Assert.Equal(HttpStatusCode.NotFound, status);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(404, body!["status"]!.GetValue<int>());
        }

        var (deleteStatus, _, _) = await stranger.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{instanceId}");
        Assert.Equal(HttpStatusCode.NotFound, deleteStatus);
        var page = await stranger.GetOkAsync("/api/v1/instances");
        Assert.DoesNotContain(page["items"]!.AsArray(), i => i!["id"]!.GetValue<string>() == instanceId.ToString());

        await api.SendAsync(HttpMethod.Delete, $"/api/v1/instances/{instanceId}");
    }

    [Fact]
    public async Task RequestInstance_WithBadInput_AnswersProblemDetailsAndCreatesNothing()
    {
        var (api, teamId) = await TeamClientAsync();
        var before = (await api.GetOkAsync("/api/v1/instances?pageSize=200"))["totalItems"]!.GetValue<int>();

        var (status, body, response) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering = "postgresql", plan = "huge", name = "Bad Name!" });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(body!["errors"]!["name"]);

        (status, body, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering = "postgresql", plan = "huge", name = "good-name" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("huge", body!["errors"]!["plan"]![0]!.GetValue<string>());

        Assert.Equal(before, (await api.GetOkAsync("/api/v1/instances?pageSize=200"))["totalItems"]!.GetValue<int>());
    }

    [Fact]
    public async Task Viewer_RequestsInstance_Gets403()
    {
        var (viewer, teamId) = await TeamClientAsync(role: "viewer");
        var (status, body, _) = await viewer.SendAsync(HttpMethod.Post, "/api/v1/instances",
            new { teamId, offering = "postgresql", plan = "small", name = "viewer-db" });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(403, body!["status"]!.GetValue<int>());
    }

    [Fact]
    public async Task Api_WithoutToken_Answers401()
    {
        var response = await fixture.CreateClient().GetAsync("/api/v1/instances");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task OpenApiDocument_IsServed()
    {
        var document = JsonNode.Parse(await fixture.CreateClient().GetStringAsync("/openapi/v1.json"))!;
        Assert.NotNull(document["paths"]!["/api/v1/instances"]);
        Assert.NotNull(document["paths"]!["/api/v1/instances/{instanceId}/bindings"]);
        Assert.Equal("/connect/token", document["components"]!["securitySchemes"]!["oauth2"]!["flows"]!["clientCredentials"]!["tokenUrl"]!.GetValue<string>());
    }
}
