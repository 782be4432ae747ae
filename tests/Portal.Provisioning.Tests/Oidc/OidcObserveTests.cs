using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenIddict.Abstractions;
using Portal.Provisioning.Oidc;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Portal.Provisioning.Tests.Oidc;

/// <summary>
/// Drift detection and repair on a real OpenIddict server (<see cref="TestOidcServer"/>): what
/// <see cref="OidcDriver.ObserveAsync"/> sees after its scope and clients were changed by hand in the database or through
/// OpenIddict's managers, and a repair that re-registers a client with its old secret, which then gets tokens again.
/// </summary>
public sealed class OidcObserveTests(TestOidcServer server) : BindingObserveTests<OidcDriver>, IClassFixture<TestOidcServer>
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    protected override IReadOnlyDictionary<string, int> Plan { get; } = new Dictionary<string, int> { [OidcDriver.AccessTokenMinutesLimit] = 30 };

    protected override string SecretKey => OidcDriver.ClientSecretKey;

    private protected override DriverScope<OidcDriver> NewScope() => new(server.NewDriver(), () => server.Backend);

    private protected override Task DeleteInstanceByHandAsync(InstanceContext instance) =>
        server.ExecuteAsync("""DELETE FROM "OpenIddictScopes" WHERE "Name" = $1""", OidcNames.Scope(instance.InstanceId));

    /// <summary>Deletes the generation's client row with its tokens and authorizations, in SQL.</summary>
    private protected override async Task DeleteGenerationByHandAsync(BindingContext binding)
    {
        const string Application = """SELECT "Id" FROM "OpenIddictApplications" WHERE "ClientId" = $1""";
        var clientId = OidcNames.Client(binding.BindingId, binding.Generation);
        await server.ExecuteAsync($"""DELETE FROM "OpenIddictTokens" WHERE "ApplicationId" IN ({Application})""", clientId);
        await server.ExecuteAsync($"""DELETE FROM "OpenIddictAuthorizations" WHERE "ApplicationId" IN ({Application})""", clientId);
        await server.ExecuteAsync("""DELETE FROM "OpenIddictApplications" WHERE "ClientId" = $1""", clientId);
    }

    /// <summary>Asks the token endpoint in the credentials for a token of their scope, as an app would (client credentials).</summary>
    private protected override async Task AssertCredentialsWorkAsync(BindingCredentials credentials)
    {
        var (ok, body) = await RequestTokenAsync(credentials);

        Assert.True(ok, body.ToString());
        var token = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.Equal([credentials.Values["audience"]], token.Audiences);
        Assert.Equal(credentials.Values["clientId"], token.Subject);
    }

    private protected override async Task AssertCredentialsRefusedAsync(BindingCredentials credentials)
    {
        // Without a scope, so the answer is about the client alone (a missing scope would be refused first).
        var (ok, body) = await RequestTokenAsync(credentials, withScope: false);

        Assert.False(ok);
        Assert.Equal(Errors.InvalidClient, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task ObserveAsync_ChangedThroughTheManagers_NamesEachDifference()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var name = OidcNames.Scope(instance.InstanceId);
        var binding = DriverScope<OidcDriver>.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        var clientId = OidcNames.Client(binding.BindingId);
        await using (var services = server.Scopes.CreateAsyncScope())
        {
            var applications = services.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
            var client = (await applications.FindByClientIdAsync(clientId, Ct))!;
            var changed = new OpenIddictApplicationDescriptor();
            await applications.PopulateAsync(changed, client, Ct);
            changed.Permissions.Remove(Permissions.Prefixes.Scope + name);
            changed.Permissions.Add(Permissions.GrantTypes.Password);
            changed.Settings.Remove(Settings.TokenLifetimes.AccessToken);
            await applications.UpdateAsync(client, changed, Ct);

            var scopes = services.ServiceProvider.GetRequiredService<IOpenIddictScopeManager>();
            var found = (await scopes.FindByNameAsync(name, Ct))!;
            var widened = new OpenIddictScopeDescriptor();
            await scopes.PopulateAsync(widened, found, Ct);
            widened.Resources.Add("pi_someone_else");
            await scopes.UpdateAsync(found, widened, Ct);
        }

        var observation = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.True(observation.Exists);
        Assert.Equal(
        [
            $"scope {name} does not give exactly the audience {name}",
            $"client {clientId} has the permissions {Permissions.GrantTypes.Password}, which the instance does not give",
            $"client {clientId} lacks the permissions {Permissions.Prefixes.Scope + name}",
            $"the access token lifetime of client {clientId} is the server's default, the plan says 00:30:00",
        ], observation.Differences);
        // Found by the instance it records, though it lost the scope's permission.
        Assert.Equal([0], observation.Bindings![binding.BindingId]);
    }

    [Fact]
    public async Task ObserveAsync_PlanAndRedirectUrisChanged_ClientsDifferUntilProvisionedAgain()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope<OidcDriver>.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        var clientId = OidcNames.Client(binding.BindingId);
        var changed = instance with
        {
            Limits = new Dictionary<string, int> { [OidcDriver.AccessTokenMinutesLimit] = 5 },
            Parameters = new Dictionary<string, string> { [OidcDriver.RedirectUrisParameter] = "https://app.example.com/signin" },
        };

        var before = await scope.Driver.ObserveAsync(changed, Ct);
        await scope.Driver.UpdateAsync(changed, Ct);
        var after = await scope.Driver.ObserveAsync(changed, Ct);

        Assert.Contains($"client {clientId} lacks the redirect URIs https://app.example.com/signin", before.Differences);
        Assert.Contains($"client {clientId} lacks the requirements {Requirements.Features.ProofKeyForCodeExchange}", before.Differences);
        Assert.Contains($"the access token lifetime of client {clientId} is 00:30:00, the plan says 00:05:00", before.Differences);
        Assert.Empty(after.Differences);
        // Updating a client keeps its secret.
        await AssertCredentialsWorkAsync(credentials);
    }

    private static async Task<(bool Ok, JsonElement Body)> RequestTokenAsync(BindingCredentials credentials, bool withScope = true)
    {
        var v = credentials.Values;
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = GrantTypes.ClientCredentials,
            ["client_id"] = v["clientId"],
            ["client_secret"] = v["clientSecret"],
        };
        if (withScope)
        {
            form["scope"] = v["scope"];
        }

        using var response = await Http.PostAsync(v["tokenEndpoint"], new FormUrlEncodedContent(form), Ct);
        return (response.IsSuccessStatusCode, await response.Content.ReadFromJsonAsync<JsonElement>(Ct));
    }
}
