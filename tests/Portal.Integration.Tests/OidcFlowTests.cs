using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using Portal.Application.Teams;
using Portal.Provisioning;
using Portal.Provisioning.Oidc;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// Identity for apps through the REST API on the real portal, whose own OIDC server is the backend: an
/// oidc instance is a scope with its own audience, a binding a confidential client; tokens are JWTs an app
/// validates from the JWKS alone.
/// </summary>
public sealed class OidcFlowTests(OidcFlowTests.Fixture fixture) : IClassFixture<OidcFlowTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private async Task<HttpResponseMessage> RequestTokenAsync(JsonNode credentials, string? scope = null)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = credentials["clientId"]!.GetValue<string>(),
            ["client_secret"] = credentials["clientSecret"]!.GetValue<string>(),
        };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        return await fixture.CreateClient().PostAsync(new Uri(credentials["tokenEndpoint"]!.GetValue<string>()).PathAndQuery,
            new FormUrlEncodedContent(form));
    }

    private async Task<TokenValidationResult> ValidateLikeAnAppAsync(string token, JsonNode credentials)
    {
        // What an app does: read the signing keys from the JWKS and check issuer, audience, lifetime, signature.
        var jwks = await fixture.CreateClient().GetStringAsync(new Uri(credentials["jwksUrl"]!.GetValue<string>()).PathAndQuery);
        return await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = credentials["issuer"]!.GetValue<string>(),
            ValidAudience = credentials["audience"]!.GetValue<string>(),
            IssuerSigningKeys = new JsonWebKeySet(jwks).GetSigningKeys(),
        });
    }

    [Fact]
    public async Task AppClient_GetsJwtForItsOwnAudienceOnly_AndLosesAccessWhenUnbound()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (ordersId, orders) = await api.RequestReadyAsync(teamId, "oidc", "short-lived", "orders-api");
        var (billingId, _) = await api.RequestReadyAsync(teamId, "oidc", "standard", "billing-api");
        var (bindingId, credentials) = await api.BindReadyAsync(ordersId, "orders-worker");
        var (_, billing) = await api.BindReadyAsync(billingId, "billing-worker");

        Assert.Equal(PortalAppFactory.TestIssuer, credentials["issuer"]!.GetValue<string>());
        Assert.Equal($"{PortalAppFactory.TestIssuer}.well-known/openid-configuration", credentials["discoveryUrl"]!.GetValue<string>());
        Assert.Equal($"pi_{ordersId:N}", credentials["scope"]!.GetValue<string>());
        Assert.Equal(credentials["scope"]!.GetValue<string>(), credentials["audience"]!.GetValue<string>());
        Assert.Contains(orders["operations"]!.AsArray(), o => o!["kind"]!.GetValue<string>() == "Provision");

        // The discovery document the credentials point at is served and names the same issuer.
        var discovery = await fixture.CreateClient().GetFromJsonAsync<JsonObject>(
            new Uri(credentials["discoveryUrl"]!.GetValue<string>()).PathAndQuery, TestContext.Current.CancellationToken);
        Assert.Equal(PortalAppFactory.TestIssuer, discovery!["issuer"]!.GetValue<string>());

        // Client credentials: a signed JWT for the instance's audience, valid from the JWKS alone.
        using var response = await RequestTokenAsync(credentials);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, body?.ToJsonString());
        var token = body!["access_token"]!.GetValue<string>();
        var validated = await ValidateLikeAnAppAsync(token, credentials);
        Assert.True(validated.IsValid, validated.Exception?.Message);
        var jwt = new JsonWebToken(token);
        Assert.Equal(credentials["clientId"]!.GetValue<string>(), jwt.Subject);
        Assert.DoesNotContain("portal-api", jwt.GetClaim("scope").Value);
        // The short-lived plan's 10 minutes, give or take a clock tick.
        Assert.InRange((jwt.ValidTo - jwt.IssuedAt).TotalMinutes, 9.9, 10.1);

        // The same token is not valid for another instance's audience, and the portal's API refuses it.
        var asBilling = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = PortalAppFactory.TestIssuer,
            ValidAudience = billing["audience"]!.GetValue<string>(),
            IssuerSigningKeys = new JsonWebKeySet(await fixture.CreateClient().GetStringAsync("/.well-known/jwks")).GetSigningKeys(),
        });
        Assert.False(asBilling.IsValid);
        using var portalApi = fixture.CreateClient();
        portalApi.DefaultRequestHeaders.Authorization = new("Bearer", token);
        Assert.Contains((await portalApi.GetAsync("/api/v1/instances")).StatusCode, new[] { HttpStatusCode.Forbidden, HttpStatusCode.Unauthorized });

        // Asking for another instance's scope, or the portal API's, is refused.
        foreach (var scope in new[] { billing["scope"]!.GetValue<string>(), "portal-api" })
        {
            using var refused = await RequestTokenAsync(credentials, scope);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var error = (await refused.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken))!;
            // OpenIddict: "This client application is not allowed to use the specified scope."
            Assert.Contains("scope", error["error_description"]!.GetValue<string>());
        }

        // Unbind: the client can no longer get tokens.
        await api.UnbindAsync(ordersId, bindingId);
        using var afterUnbind = await RequestTokenAsync(credentials);
        Assert.Equal(HttpStatusCode.Unauthorized, afterUnbind.StatusCode);
        Assert.Equal("invalid_client", (await afterUnbind.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken))!["error"]!.GetValue<string>());

        // Deprovision: the other client and the scope go too.
        await api.DeleteReadyAsync(billingId);
        using var afterDelete = await RequestTokenAsync(billing);
        Assert.Equal(HttpStatusCode.Unauthorized, afterDelete.StatusCode);
        await api.DeleteReadyAsync(ordersId);
    }

    [Fact]
    public async Task Driver_Rotation_BothSecretsWorkDuringOverlapThenRetiredClientIsInvalid()
    {
        // The oidc driver itself on the portal's OIDC server (the application does not rotate yet).
        var driver = fixture.Services.GetServices<IServiceDriver>().OfType<OidcDriver>().Single();
        var ct = TestContext.Current.CancellationToken;
        var instance = new InstanceContext(Guid.NewGuid(),
            BackendEndpoint.Parse($"Host=localhost;Port=80;AdminUser=portal;AdminPassword=none;issuer={PortalAppFactory.TestIssuer}"),
            new Dictionary<string, int> { [OidcDriver.AccessTokenMinutesLimit] = 10 }, new Progress<string>());
        var binding = new BindingContext(instance, Guid.NewGuid());
        await driver.ProvisionAsync(instance, ct);
        try
        {
            var old = JsonSerializer.SerializeToNode((await driver.BindAsync(binding, ct)).Values)!;
            var fresh = JsonSerializer.SerializeToNode((await driver.BindAsync(binding with { Generation = 1 }, ct)).Values)!;
            async Task<JsonWebToken> TokenAsync(JsonNode credentials)
            {
                using var response = await RequestTokenAsync(credentials);
                var body = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
                Assert.True(response.IsSuccessStatusCode, body?.ToJsonString());
                var token = body!["access_token"]!.GetValue<string>();
                var validated = await ValidateLikeAnAppAsync(token, credentials);
                Assert.True(validated.IsValid, validated.Exception?.Message);
                return new JsonWebToken(token);
            }

            async Task<string?> ErrorAsync(JsonNode credentials)
            {
                using var response = await RequestTokenAsync(credentials);
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                return (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["error"]!.GetValue<string>();
            }

            Assert.Equal($"pb_{binding.BindingId:N}", old["clientId"]!.GetValue<string>());
            Assert.Equal($"pb_{binding.BindingId:N}_g1", fresh["clientId"]!.GetValue<string>());
            Assert.NotEqual(old["clientSecret"]!.GetValue<string>(), fresh["clientSecret"]!.GetValue<string>());
            Assert.Equal(old["audience"]!.GetValue<string>(), fresh["audience"]!.GetValue<string>());

            // The overlap: both secrets get tokens for the same audience with the same lifetime.
            var oldToken = await TokenAsync(old);
            var freshToken = await TokenAsync(fresh);
            Assert.Equal(oldToken.Audiences, freshToken.Audiences);
            Assert.Equal(oldToken.GetClaim("scope").Value, freshToken.GetClaim("scope").Value);
            Assert.InRange((freshToken.ValidTo - freshToken.IssuedAt).TotalMinutes, 9.9, 10.1);
            string oldApplicationId;
            await using (var scope = fixture.Services.CreateAsyncScope())
            {
                var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
                var oldClient = (await applications.FindByClientIdAsync(old["clientId"]!.GetValue<string>(), ct))!;
                var freshClient = (await applications.FindByClientIdAsync(fresh["clientId"]!.GetValue<string>(), ct))!;
                Assert.Equal(await applications.GetPermissionsAsync(oldClient, ct), await applications.GetPermissionsAsync(freshClient, ct));
                oldApplicationId = (await applications.GetIdAsync(oldClient, ct))!;
                Assert.NotEmpty(await TokenEntriesAsync(scope, oldApplicationId));
            }

            await driver.RetireAsync(binding with { Generation = 1 }, 0, ct);

            Assert.Equal("invalid_client", await ErrorAsync(old));
            await TokenAsync(fresh);
            await using (var scope = fixture.Services.CreateAsyncScope())
            {
                // The retired client's token entries are gone, so the portal's own validation refuses its tokens.
                Assert.Empty(await TokenEntriesAsync(scope, oldApplicationId));
            }

            // Retiring again is a no-op; a generation left by a crashed rotation goes with the unbind.
            await driver.RetireAsync(binding with { Generation = 1 }, 0, ct);
            var leftover = JsonSerializer.SerializeToNode((await driver.BindAsync(binding with { Generation = 2 }, ct)).Values)!;
            await TokenAsync(leftover);

            await driver.UnbindAsync(binding with { Generation = 1 }, ct);

            Assert.Equal("invalid_client", await ErrorAsync(fresh));
            Assert.Equal("invalid_client", await ErrorAsync(leftover));
            await driver.UnbindAsync(binding, ct);
        }
        finally
        {
            await driver.DeprovisionAsync(instance, CancellationToken.None);
        }

        static async Task<List<object>> TokenEntriesAsync(AsyncServiceScope scope, string applicationId)
        {
            var tokens = scope.ServiceProvider.GetRequiredService<IOpenIddictTokenManager>();
            var found = new List<object>();
            await foreach (var token in tokens.FindByApplicationIdAsync(applicationId, TestContext.Current.CancellationToken))
            {
                found.Add(token);
            }

            return found;
        }
    }

    [Fact]
    public async Task PlanChange_GivesExistingClientsTheNewTokenLifetime()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (id, _) = await api.RequestReadyAsync(teamId, "oidc", "standard", "lifetime-api");
        var (_, credentials) = await api.BindReadyAsync(id, "lifetime-worker");
        async Task<double> TokenMinutesAsync()
        {
            using var response = await RequestTokenAsync(credentials);
            var body = await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
            Assert.True(response.IsSuccessStatusCode, body?.ToJsonString());
            var jwt = new JsonWebToken(body!["access_token"]!.GetValue<string>());
            return Math.Round((jwt.ValidTo - jwt.IssuedAt).TotalMinutes);
        }

        Assert.Equal(60, await TokenMinutesAsync());

        var (status, body, _) = await api.SendAsync(HttpMethod.Post, $"/api/v1/instances/{id}/plan", new { plan = "short-lived" });
        Assert.True(status == HttpStatusCode.Accepted, body?.ToJsonString());
        await api.WaitForAsync($"/api/v1/instances/{id}",
            i => i["instance"]!["planKey"]!.GetValue<string>() == "short-lived" && i["instance"]!["state"]!.GetValue<string>() == "Ready",
            "the plan change to finish");

        // The same client, the same secret: its tokens now live 10 minutes.
        Assert.Equal(10, await TokenMinutesAsync());
        await api.DeleteReadyAsync(id);
    }

    [Fact]
    public async Task Request_WithBadRedirectUri_IsRefusedWithProblemDetailsAndCreatesNothing()
    {
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        var (status, body, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances", new
        {
            teamId, offering = "oidc", plan = "standard", name = "bad-redirects",
            parameters = new Dictionary<string, string> { ["redirectUris"] = "http://example.com/cb https://ok.example.com/cb#frag" },
        });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("redirectUris", body!["errors"]!.AsObject().Select(e => e.Key).Single());
        Assert.DoesNotContain((await api.GetOkAsync("/api/v1/instances?search=bad-redirects"))["items"]!.AsArray(),
            i => i!["name"]!.GetValue<string>() == "bad-redirects");

        (status, body, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/instances", new
        {
            teamId, offering = "oidc", plan = "standard", name = "unknown-param",
            parameters = new Dictionary<string, string> { ["colour"] = "blue" },
        });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("Unknown parameter 'colour'", body!["errors"]!["parameters.colour"]![0]!.GetValue<string>());
    }
}
