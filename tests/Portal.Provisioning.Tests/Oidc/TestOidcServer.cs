using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.Tokens;
using Npgsql;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Portal.Provisioning.Oidc;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Portal.Provisioning.Tests.Oidc;

/// <summary>
/// A real OpenIddict server for the oidc driver's tests: its EF Core stores in a database of their own on the portal's
/// test PostgreSQL server (<see cref="DatabaseVariable"/>), and a token endpoint on loopback that apps call with their
/// binding's client id and secret (client credentials). The database is dropped when the fixture is disposed.
/// </summary>
public sealed class TestOidcServer : IAsyncLifetime
{
    public const string DatabaseVariable = "PORTAL_TEST_DATABASE";

    private readonly string _database = $"oidc_driver_tests_{Guid.NewGuid():N}";
    private WebApplication? _app;

    /// <summary>The issuer apps see, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Issuer { get; private set; } = null!;

    /// <summary>The oidc backend: only the issuer setting matters (the stores are this server's).</summary>
    public BackendEndpoint Backend => new("localhost", 80, "portal", "none")
    {
        Settings = new Dictionary<string, string> { [OidcDriver.IssuerSetting] = Issuer.AbsoluteUri },
    };

    public IServiceScopeFactory Scopes => _app!.Services.GetRequiredService<IServiceScopeFactory>();

    public OidcDriver NewDriver() => new(Scopes, new RabbitMq.TestHttpClientFactory(), NullLogger<OidcDriver>.Instance);

    /// <summary>Runs SQL on the server's database as its superuser, as an operator would.</summary>
    public async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var conn = new NpgsqlConnection(ConnectionString(_database));
        await conn.OpenAsync(TestContext.Current.CancellationToken);
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var parameter in parameters)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await cmd.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask InitializeAsync()
    {
        await AdminAsync($"CREATE DATABASE \"{_database}\"");
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddDbContext<StoreContext>(o => o.UseNpgsql(ConnectionString(_database)).UseOpenIddict<Guid>());
        builder.Services.AddOpenIddict()
            .AddCore(o => o.UseEntityFrameworkCore().UseDbContext<StoreContext>().ReplaceDefaultEntities<Guid>())
            .AddServer(o =>
            {
                o.SetTokenEndpointUris("connect/token");
                o.AllowClientCredentialsFlow();
                o.AddEphemeralEncryptionKey().AddEphemeralSigningKey();
                o.DisableAccessTokenEncryption();
                // Loopback http, as in the portal's own tests.
                o.UseAspNetCore().EnableTokenEndpointPassthrough().DisableTransportSecurityRequirement();
            });
        _app = builder.Build();
        _app.MapPost("/connect/token", IssueTokenAsync);
        await using (var scope = _app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<StoreContext>().Database.EnsureCreatedAsync();
        }

        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        Issuer = new Uri(address.TrimEnd('/') + "/");
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools();
        await AdminAsync($"DROP DATABASE IF EXISTS \"{_database}\" WITH (FORCE)");
    }

    /// <summary>
    /// The token endpoint's passthrough, reached only after OpenIddict checked the client's secret, its permission for
    /// the grant and for every scope asked: a token for the client with the scopes' audiences.
    /// </summary>
    private static async Task<IResult> IssueTokenAsync(HttpContext http, IOpenIddictScopeManager scopes)
    {
        var request = http.GetOpenIddictServerRequest()!;
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, request.ClientId);
        identity.SetScopes(request.GetScopes());
        var resources = new List<string>();
        await foreach (var resource in scopes.ListResourcesAsync(identity.GetScopes()))
        {
            resources.Add(resource);
        }

        identity.SetResources(resources);
        identity.SetDestinations(_ => [Destinations.AccessToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    private static string ConnectionString(string? database = null)
    {
        var value = Environment.GetEnvironmentVariable(DatabaseVariable);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Fail(
                $"{DatabaseVariable} is not set: run `ops/portal test`, which installs PostgreSQL (apt-get install postgresql) " +
                "and starts the private cluster of the portal's test databases. Expected a superuser connection string like " +
                "Host=127.0.0.1;Port=55416;Username=postgres;Password=secret;Database=postgres.");
        }

        var builder = new NpgsqlConnectionStringBuilder(value);
        if (database is not null)
        {
            builder.Database = database;
        }

        return builder.ConnectionString;
    }

    private static async Task AdminAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(ConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>OpenIddict's entities and nothing else, as the portal's context maps them.</summary>
    private sealed class StoreContext(DbContextOptions<StoreContext> options) : DbContext(options)
    {
        protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.UseOpenIddict<Guid>();
    }
}
