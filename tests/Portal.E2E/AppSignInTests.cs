using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Microsoft.Playwright;

namespace Portal.E2E;

/// <summary>
/// Identity for apps, as people meet it: a developer requests an identity instance with a redirect URI in
/// the catalog, binds an app and copies its client; a person opening the app is sent to the portal's
/// sign-in and comes back to the app with a code the app redeems for tokens of its own audience.
/// </summary>
public sealed partial class AppSignInTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const float Timeout = 60_000;
    private const string Callback = "https://orders.example.com/signin-oidc";

    [Fact]
    public async Task Developer_RegistersApp_PersonSignsInToItWithAuthorizationCode()
    {
        // The developer: catalog → identity offering with a redirect URI → Ready → bind → copy the client.
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/catalog");
        await fixture.SignInAsAdminAsync(page);
        await page.WaitForURLAsync("**/catalog");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.FillAsync("#name-oidc", "orders-web");
        await page.FillAsync("#param-oidc-redirectUris", Callback);
        await page.ClickAsync("[data-testid=request-oidc]");
        await page.WaitForURLAsync(new Regex("/instances/[0-9a-f-]{36}$"));
        await fixture.ExpectStateAsync(page.Locator("[data-testid=instance-state] [data-testid=state]"), "Ready", Timeout);
        await Assertions.Expect(page.Locator("[data-testid=parameters]")).ToContainTextAsync(Callback);
        await page.FillAsync("#app-name", "orders-web");
        await page.ClickAsync("[data-testid=create-binding]");
        var binding = page.Locator("[data-testid=binding-orders-web]");
        await fixture.ExpectStateAsync(binding.Locator("[data-testid=state]"), "Ready", Timeout);
        await binding.Locator("[data-testid=show-credentials]").ClickAsync();
        await Assertions.Expect(binding.Locator("[data-testid=credential-redirectUris]")).ToHaveTextAsync(Callback);
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "oidc-credentials.png"), FullPage = true });
        async Task<string> Credential(string key) => await binding.Locator($"[data-testid=credential-{key}]").InnerTextAsync();
        var clientId = await Credential("clientId");
        var clientSecret = await Credential("clientSecret");
        var scope = await Credential("scope");
        var issuer = await Credential("issuer");

        // A person (a fresh browser) opens the app, which sends them to the portal's authorization endpoint.
        var person = await fixture.NewPageAsync();
        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var state = Guid.NewGuid().ToString("N");
        string? redirectedTo = null;
        // The app itself is not running here: catch the browser's return to it.
        await person.RouteAsync(Callback + "**", async route =>
        {
            redirectedTo = route.Request.Url;
            await route.FulfillAsync(new() { Status = 200, Body = "the app" });
        });
        await person.GotoAsync(
            $"/connect/authorize?response_type=code&client_id={clientId}&redirect_uri={Uri.EscapeDataString(Callback)}" +
            $"&scope={Uri.EscapeDataString($"openid profile email {scope}")}&state={state}&code_challenge={challenge}&code_challenge_method=S256");
        await fixture.SignInAsAdminAsync(person);
        await person.WaitForURLAsync(Callback + "**");
        var query = System.Web.HttpUtility.ParseQueryString(new Uri(redirectedTo!).Query);
        Assert.Equal(state, query["state"]);

        // The app redeems the code with its secret and the PKCE verifier.
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        using var response = await http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = query["code"]!,
            ["redirect_uri"] = Callback,
            ["code_verifier"] = verifier,
            ["client_id"] = clientId,
            ["client_secret"] = clientSecret,
        }), TestContext.Current.CancellationToken);
        var tokens = await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, tokens?.ToJsonString());

        var keys = new JsonWebKeySet(await http.GetStringAsync("/.well-known/jwks", TestContext.Current.CancellationToken)).GetSigningKeys();
        var access = await new JsonWebTokenHandler().ValidateTokenAsync(tokens!["access_token"]!.GetValue<string>(),
            new TokenValidationParameters { ValidIssuer = issuer, ValidAudience = scope, IssuerSigningKeys = keys });
        Assert.True(access.IsValid, access.Exception?.Message);
        var id = await new JsonWebTokenHandler().ValidateTokenAsync(tokens["id_token"]!.GetValue<string>(),
            new TokenValidationParameters { ValidIssuer = issuer, ValidAudience = clientId, IssuerSigningKeys = keys });
        Assert.True(id.IsValid, id.Exception?.Message);
        Assert.Equal(fixture.AdminEmail, id.Claims["email"]);

        // A redirect URI the app did not register is refused by the portal, not followed.
        var stranger = await fixture.NewPageAsync();
        var refused = await stranger.GotoAsync(
            $"/connect/authorize?response_type=code&client_id={clientId}&redirect_uri={Uri.EscapeDataString("https://evil.example.com/cb")}" +
            $"&scope=openid&code_challenge={challenge}&code_challenge_method=S256");
        Assert.Equal(400, refused!.Status);
    }
}
