using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// The portal in the Production environment, served over HTTPS as a company runs it: an encrypted key ring
/// (DataProtection:CertificatePath), OpenIddict's transport check on and Secure cookies (both by default there), and an
/// https issuer.
/// </summary>
public class ProductionPortal : PortalAppFactory
{
    private readonly IReadOnlyDictionary<string, string?> _overrides;
    private readonly string _keyDirectory = Directory.CreateTempSubdirectory("portal-keyring-").FullName;

    public ProductionPortal()
        : this(new Dictionary<string, string?>())
    {
    }

    /// <param name="overrides">Settings that replace the production ones (null or empty: unset).</param>
    public ProductionPortal(IReadOnlyDictionary<string, string?> overrides)
    {
        _overrides = overrides;
        ClientOptions.BaseAddress = new Uri(Issuer);
        KeyRingCertificate = Path.Combine(_keyDirectory, "dataprotection.pfx");
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=Portal test key ring", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        File.WriteAllBytes(KeyRingCertificate, certificate.Export(X509ContentType.Pfx, KeyRingPassword));
    }

    public const string HttpsIssuer = "https://localhost/";

    private const string KeyRingPassword = "test-key-ring";

    /// <summary>The PFX that encrypts the key ring.</summary>
    public string KeyRingCertificate { get; }

    protected override string Issuer => HttpsIssuer;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseEnvironment("Production");
        builder.UseSetting("DataProtection:CertificatePath", KeyRingCertificate);
        builder.UseSetting("DataProtection:CertificatePassword", KeyRingPassword);
        // The port plain HTTP is redirected to (Kestrel would tell it; the in-memory server listens nowhere).
        builder.UseSetting("HTTPS_PORT", "443");
        foreach (var (key, value) in _overrides)
        {
            builder.UseSetting(key, value ?? "");
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_keyDirectory, recursive: true);
        GC.SuppressFinalize(this);
    }
}

/// <summary>Outside Development the web host refuses to start while a setting is unsafe, and says which setting fixes it.</summary>
/// <remarks>
/// Apart from the tests of a running production host: a refused host has set Hangfire's process-wide logging to its own
/// logger factory, disposed with it, so a host built before it in the same class could no longer enqueue jobs.
/// </remarks>
public sealed class ProductionRefusalTests
{
    /// <summary>Builds and starts a production host with one setting changed; returns why it refused to start.</summary>
    private static async Task<string> RefusalAsync(string key, string? value)
    {
        // Never initialized: the refusal comes before the host touches its database.
        await using var portal = new ProductionPortal(new Dictionary<string, string?> { [key] = value });
        var refused = Assert.Throws<OptionsValidationException>(() => portal.Services);
        return refused.Message;
    }

    [Fact]
    public async Task Start_WithoutKeyRingCertificate_RefusesNamingDataProtectionCertificatePath()
    {
        var message = await RefusalAsync("DataProtection:CertificatePath", null);
        Assert.Contains("key ring would be stored unencrypted", message);
        Assert.Contains("DataProtection:CertificatePath", message);
        Assert.DoesNotContain("Auth:", message);
    }

    [Fact]
    public async Task Start_WithRequireHttpsOff_RefusesNamingAuthRequireHttps()
    {
        var message = await RefusalAsync("Auth:RequireHttps", "false");
        Assert.Contains("Auth:RequireHttps is false", message);
        Assert.Contains("ForwardedHeaders:KnownProxies", message);
        Assert.DoesNotContain("DataProtection:", message);
        Assert.DoesNotContain("Auth:CookieSecurePolicy", message);
    }

    [Fact]
    public async Task Start_WithCookiesNotAlwaysSecure_RefusesNamingAuthCookieSecurePolicy()
    {
        var message = await RefusalAsync("Auth:CookieSecurePolicy", "SameAsRequest");
        Assert.Contains("Auth:CookieSecurePolicy is SameAsRequest", message);
        Assert.DoesNotContain("DataProtection:", message);
        Assert.DoesNotContain("Auth:RequireHttps", message);
    }

}

/// <summary>A production host with every setting safe: it starts, serves HTTPS, and its oidc bindings are https.</summary>
public sealed class ProductionStartTests(ProductionStartTests.Fixture fixture) : IClassFixture<ProductionStartTests.Fixture>
{
    public sealed class Fixture : ProductionPortal;

    [Fact]
    public async Task Start_WithEverySettingSafe_ServesHttpsAndRedirectsPlainHttp()
    {
        var ct = TestContext.Current.CancellationToken;
        var discovery = await fixture.CreateClient().GetFromJsonAsync<JsonObject>("/.well-known/openid-configuration", ct);
        Assert.Equal(ProductionPortal.HttpsIssuer, discovery!["issuer"]!.GetValue<string>());
        Assert.StartsWith("https://", discovery["token_endpoint"]!.GetValue<string>());

        var plain = fixture.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("http://localhost/"), AllowAutoRedirect = false });
        using var redirected = await plain.GetAsync("/account/login?returnUrl=%2F", ct);
        Assert.Equal(HttpStatusCode.TemporaryRedirect, redirected.StatusCode);
        Assert.Equal("https://localhost/account/login?returnUrl=%2F", redirected.Headers.Location!.AbsoluteUri);

        // The sign-in page's cookie (antiforgery) is Secure.
        using var page = await fixture.CreateClient().GetAsync("/account/login", ct);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var cookies = page.Headers.GetValues("Set-Cookie").ToList();
        Assert.NotEmpty(cookies);
        Assert.All(cookies, c => Assert.Contains("secure", c, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task OidcBinding_OnAnHttpsPortal_WorksWithAStandardClientLibraryThatRequiresHttps()
    {
        var ct = TestContext.Current.CancellationToken;
        var (api, teamId) = await fixture.DemoDeveloperAsync();
        Guid instanceId;
        JsonNode credentials;
        try
        {
            (instanceId, _) = await api.RequestReadyAsync(teamId, "oidc", "standard", "orders-api");
            (_, credentials) = await api.BindReadyAsync(instanceId, "orders-worker");
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{await fixture.JobsReportAsync()}", e);
        }

        foreach (var url in new[] { "issuer", "discoveryUrl", "jwksUrl", "tokenEndpoint" })
        {
            Assert.StartsWith(ProductionPortal.HttpsIssuer, credentials[url]!.GetValue<string>());
        }

        // Microsoft.IdentityModel's discovery client, as ASP.NET Core's JwtBearer and OpenIdConnect handlers use it, with
        // its default RequireHttps: no "allow insecure" switch.
        var retriever = new HttpDocumentRetriever(fixture.CreateClient());
        Assert.True(retriever.RequireHttps);
        var configuration = await new ConfigurationManager<OpenIdConnectConfiguration>(
                credentials["discoveryUrl"]!.GetValue<string>(), new OpenIdConnectConfigurationRetriever(), retriever)
            .GetConfigurationAsync(ct);
        Assert.Equal(credentials["issuer"]!.GetValue<string>(), configuration.Issuer);
        Assert.NotEmpty(configuration.SigningKeys);

        // The app's client credentials at the discovered token endpoint, and the token validated from the discovered keys.
        using var tokenResponse = await fixture.CreateClient().PostAsync(configuration.TokenEndpoint, new FormUrlEncodedContent(
            new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = credentials["clientId"]!.GetValue<string>(),
                ["client_secret"] = credentials["clientSecret"]!.GetValue<string>(),
            }), ct);
        var body = await tokenResponse.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(tokenResponse.IsSuccessStatusCode, body?.ToJsonString());
        var validated = await new JsonWebTokenHandler().ValidateTokenAsync(body!["access_token"]!.GetValue<string>(), new TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = credentials["audience"]!.GetValue<string>(),
            IssuerSigningKeys = configuration.SigningKeys,
        });
        Assert.True(validated.IsValid, validated.Exception?.Message);

        // What the same library said to the plain-HTTP issuer of before.
        var insecure = await Assert.ThrowsAnyAsync<ArgumentException>(() =>
            retriever.GetDocumentAsync("http://localhost/.well-known/openid-configuration", ct));
        Assert.Contains("IDX20108", insecure.Message);
        await api.DeleteReadyAsync(instanceId);
    }
}
