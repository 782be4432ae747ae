using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenIddict.Abstractions;
using Portal.Provisioning.Http;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Portal.Provisioning.Oidc;

/// <summary>
/// Serves <c>oidc</c> instances on the portal's own OpenIddict server: an instance is an API resource of a
/// team's app — a scope whose tokens carry the instance's audience — and a binding is a confidential client
/// allowed that scope (client credentials; authorization code with PKCE too when the instance has
/// redirect URIs), one client per credential generation so a rotation's old and new secrets overlap. Tokens are
/// signed JWTs that the app validates itself from the issuer's JWKS.
/// </summary>
/// <remarks>
/// The backend record names the issuer apps see (setting <c>issuer</c>); host, port and admin credentials
/// are not used, as the applications and scopes live in the portal's database and are changed through
/// OpenIddict's managers.
/// </remarks>
public sealed class OidcDriver(IServiceScopeFactory scopes, IHttpClientFactory http, ILogger<OidcDriver> logger) : IServiceDriver
{
    public const string HttpClientName = "oidc-driver";
    public const string IssuerSetting = "issuer";
    public const string RedirectUrisParameter = "redirectUris";
    public const string AccessTokenMinutesLimit = "accessTokenMinutes";

    /// <summary>The credential key of the client's secret.</summary>
    public const string ClientSecretKey = "clientSecret";

    private const int SecretLength = 48;

    /// <inheritdoc />
    public string Kind => "oidc";

    /// <inheritdoc />
    /// <remarks>
    /// With <c>tls=true</c> the portal serves HTTPS with a certificate from the platform CA (as <c>ops/portal up</c> does):
    /// the backend test trusts that CA alone, and bindings carry <c>ca.crt</c> so an app can trust the issuer. Without it,
    /// the issuer's certificate is one the system already trusts.
    /// </remarks>
    public bool SupportsTls => true;

    /// <inheritdoc />
    public IReadOnlyList<DriverField> BackendSettings { get; } =
        [new(IssuerSetting, "Issuer", "the portal's public base URL that apps reach, e.g. https://portal.example.com/", Required: true)];

    /// <inheritdoc />
    public IReadOnlyList<DriverField> InstanceParameters { get; } =
    [
        new(RedirectUrisParameter, "Redirect URIs",
            "for interactive sign-in (authorization code + PKCE): space-separated https URLs (http only on localhost); empty for service-to-service only"),
    ];

    /// <inheritdoc />
    public IReadOnlyList<DriverField> PlanLimits { get; } =
        [new(AccessTokenMinutesLimit, "Access token minutes", "how long the app's access tokens live (default 60)")];

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        var errors = new Dictionary<string, string>();
        if (parameters.TryGetValue(RedirectUrisParameter, out var text))
        {
            var bad = SplitUris(text).Where(u => !IsAcceptableRedirectUri(u)).ToList();
            if (bad.Count > 0)
            {
                errors[RedirectUrisParameter] =
                    $"Not a usable redirect URI: {string.Join(", ", bad)}. Use absolute https URLs without a fragment (http only for localhost).";
            }
        }

        return errors;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Browsers follow redirect URIs, the portal never connects to them: they get the egress policy's rules of form (no
    /// user info, hosts in their one spelling) but may name loopback, which native apps use (RFC 8252 §7.3).
    /// </remarks>
    public IReadOnlyList<ParameterUrl> ParameterUrls(IReadOnlyDictionary<string, string> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return SplitUris(parameters.GetValueOrDefault(RedirectUrisParameter))
            .Select(uri => new ParameterUrl(RedirectUrisParameter, uri, Connects: false)).ToList();
    }

    /// <inheritdoc />
    public async Task<ProvisionResult> ProvisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var name = OidcNames.Scope(instance.InstanceId);
        await using var scope = scopes.CreateAsyncScope();
        var manager = scope.ServiceProvider.GetRequiredService<IOpenIddictScopeManager>();

        instance.Progress.Report($"Registering scope {name} with audience {name}");
        var descriptor = new OpenIddictScopeDescriptor
        {
            Name = name,
            DisplayName = $"API of instance {instance.InstanceId}",
            Resources = { name },
        };
        if (await manager.FindByNameAsync(name, ct) is { } existing)
        {
            await manager.UpdateAsync(existing, descriptor, ct);
        }
        else
        {
            await manager.CreateAsync(descriptor, ct);
        }

        // Clients made before a plan change get the current token lifetime and redirect URIs.
        await UpdateClientsAsync(instance, ct);
        logger.LogInformation("Provisioned OIDC scope {Scope}", name);
        return new ProvisionResult(new Dictionary<string, string> { ["scope"] = name, ["audience"] = name });
    }

    /// <inheritdoc />
    public async Task UpdateAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        await ProvisionAsync(instance, ct);
    }

    /// <inheritdoc />
    public async Task DeprovisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var name = OidcNames.Scope(instance.InstanceId);
        await using var scope = scopes.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        var scopeManager = scope.ServiceProvider.GetRequiredService<IOpenIddictScopeManager>();

        // Clients first, found through their permission on the scope, so a retry after a crash finds the rest.
        foreach (var application in await ClientsOfAsync(applications, instance.InstanceId, ct))
        {
            instance.Progress.Report($"Deleting client {await applications.GetClientIdAsync(application, ct)}");
            await DeleteClientAsync(scope.ServiceProvider, application, ct);
        }

        if (await scopeManager.FindByNameAsync(name, ct) is { } existing)
        {
            instance.Progress.Report($"Deleting scope {name}");
            await scopeManager.DeleteAsync(existing, ct);
        }

        logger.LogInformation("Deprovisioned OIDC scope {Scope}", name);
    }

    /// <inheritdoc />
    public async Task<BindingCredentials> BindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var scopeName = OidcNames.Scope(instance.InstanceId);
        var clientId = OidcNames.Client(binding.BindingId, binding.Generation);
        // A repair re-registering a lost client gives it the secret it had (Existing), so the app keeps working; the
        // store keeps only its hash either way.
        var secret = binding.ExistingOrNewSecret(ClientSecretKey, SecretLength);
        await using var scope = scopes.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        if (await scope.ServiceProvider.GetRequiredService<IOpenIddictScopeManager>().FindByNameAsync(scopeName, ct) is null)
        {
            throw new InvalidOperationException($"Scope {scopeName} does not exist; provision the instance first.");
        }

        // A repeated bind of a generation replaces its client: the old secret and its token entries go with it.
        // Other generations' clients are left alone, so a rotation's old secret works until it is retired.
        if (await applications.FindByClientIdAsync(clientId, ct) is { } existing)
        {
            await DeleteClientAsync(scope.ServiceProvider, existing, ct);
        }

        instance.Progress.Report($"Registering client {clientId}");
        var descriptor = Describe(instance, clientId);
        descriptor.ClientSecret = secret;
        await applications.CreateAsync(descriptor, ct);
        logger.LogInformation("Registered OIDC client {ClientId} for scope {Scope}", clientId, scopeName);

        var issuer = Issuer(instance.Backend);
        var credentials = new OrderedDictionary<string, string>
        {
            ["issuer"] = issuer.AbsoluteUri,
            ["discoveryUrl"] = new Uri(issuer, ".well-known/openid-configuration").AbsoluteUri,
            ["jwksUrl"] = new Uri(issuer, ".well-known/jwks").AbsoluteUri,
            ["tokenEndpoint"] = new Uri(issuer, "connect/token").AbsoluteUri,
            ["clientId"] = clientId,
            [ClientSecretKey] = secret,
            ["scope"] = scopeName,
            ["audience"] = scopeName,
        };
        if (descriptor.RedirectUris.Count > 0)
        {
            credentials["authorizationEndpoint"] = new Uri(issuer, "connect/authorize").AbsoluteUri;
            credentials["redirectUris"] = string.Join(' ', descriptor.RedirectUris.Select(u => u.AbsoluteUri));
        }

        if (instance.Backend.Tls)
        {
            credentials["ca.crt"] = instance.Backend.RequireCa().CertificatePem;
        }

        return new BindingCredentials(credentials);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Deletes the generation's client after revoking its tokens and authorizations: from then on the token
    /// endpoint answers its secret with <c>invalid_client</c> and the portal's own validation refuses its tokens.
    /// Apps that only check signatures accept an issued token until it expires (the plan's access token lifetime).
    /// </remarks>
    public async Task RetireAsync(BindingContext binding, int generation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var clientId = OidcNames.Client(binding.BindingId, generation);
        await using var scope = scopes.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        if (await applications.FindByClientIdAsync(clientId, ct) is { } existing)
        {
            binding.Instance.Progress.Report($"Deleting client {clientId}");
            await DeleteClientAsync(scope.ServiceProvider, existing, ct);
        }

        logger.LogInformation("Retired OIDC client {ClientId}", clientId);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Deletes the client of every generation, found by client id (so also one whose rotation crashed before the
    /// portal recorded it), with its tokens and authorizations, as <see cref="RetireAsync"/> does for one.
    /// </remarks>
    public async Task UnbindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        await using var scope = scopes.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        var found = new List<(string ClientId, object Application)>();
        await foreach (var application in applications.ListAsync(count: null, offset: null, ct))
        {
            if (await applications.GetClientIdAsync(application, ct) is { } clientId && OidcNames.IsClientOf(clientId, binding.BindingId))
            {
                found.Add((clientId, application));
            }
        }

        // Deleted after the listing, not while its query is still being read.
        foreach (var (clientId, application) in found)
        {
            binding.Instance.Progress.Report($"Deleting client {clientId}");
            await DeleteClientAsync(scope.ServiceProvider, application, ct);
        }

        logger.LogInformation("Deleted {Count} OIDC client(s) of binding {Binding}", found.Count, OidcNames.Client(binding.BindingId));
    }

    /// <inheritdoc />
    public async Task<HealthReport> CheckAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var name = OidcNames.Scope(instance.InstanceId);
        await using var scope = scopes.CreateAsyncScope();
        var manager = scope.ServiceProvider.GetRequiredService<IOpenIddictScopeManager>();
        return await manager.FindByNameAsync(name, ct) is not null
            ? new HealthReport(true, $"scope {name} exists")
            : new HealthReport(false, $"scope {name} does not exist");
    }

    /// <inheritdoc />
    /// <remarks>
    /// The scope must give exactly the instance's audience; each binding client (found like
    /// <see cref="DeprovisionAsync"/> finds them) must be a confidential client with a secret and the registration
    /// <see cref="BindAsync"/> gives it under the instance's current plan and redirect URIs.
    /// </remarks>
    public async Task<Observation> ObserveAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var name = OidcNames.Scope(instance.InstanceId);
        await using var scope = scopes.CreateAsyncScope();
        var scopeManager = scope.ServiceProvider.GetRequiredService<IOpenIddictScopeManager>();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        var differences = new List<string>();

        var found = await scopeManager.FindByNameAsync(name, ct);
        if (found is not null && !(await scopeManager.GetResourcesAsync(found, ct)).SequenceEqual([name], StringComparer.Ordinal))
        {
            differences.Add($"scope {name} does not give exactly the audience {name}");
        }

        var clients = new List<BindingGeneration?>();
        foreach (var application in await ClientsOfAsync(applications, instance.InstanceId, ct))
        {
            var clientId = await applications.GetClientIdAsync(application, ct) ?? "";
            clients.Add(OidcNames.ParseClient(clientId));
            var actual = new OpenIddictApplicationDescriptor();
            await applications.PopulateAsync(actual, application, ct);
            differences.AddRange(ClientDrift(clientId, actual, Describe(instance, clientId)));
        }

        return Observation.Of(found is not null, differences, clients);
    }

    /// <inheritdoc />
    public async Task<HealthReport> TestBackendAsync(BackendEndpoint backend, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(backend);
        try
        {
            var issuer = Issuer(backend);
            var discovery = new Uri(issuer, ".well-known/openid-configuration");
            using var client = backend.Tls && issuer.Scheme == Uri.UriSchemeHttps
                ? new HttpClient(PlatformCaHandler.Create(backend.RequireCa()), disposeHandler: true) { Timeout = TimeSpan.FromSeconds(15) }
                : http.CreateClient(HttpClientName);
            using var document = await client.GetFromJsonAsync<JsonDocument>(discovery, ct)
                ?? throw new InvalidOperationException($"{discovery} returned nothing.");
            var announced = document.RootElement.TryGetProperty("issuer", out var i) ? i.GetString() : null;
            if (!string.Equals(announced, issuer.AbsoluteUri, StringComparison.Ordinal))
            {
                return new HealthReport(false,
                    $"{discovery} names the issuer {announced ?? "(none)"}, not {issuer.AbsoluteUri}: tokens would not validate in apps. Set Auth:Issuer.");
            }

            return new HealthReport(true, $"OIDC discovery at {discovery} answers for {announced}");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or InvalidOperationException or UriFormatException
                                      or TaskCanceledException && !ct.IsCancellationRequested)
        {
            logger.LogWarning("Backend test of the OIDC issuer failed: {Error}", e.Message);
            return new HealthReport(false, e.Message);
        }
    }

    private async Task UpdateClientsAsync(InstanceContext instance, CancellationToken ct)
    {
        var name = OidcNames.Scope(instance.InstanceId);
        await using var scope = scopes.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        foreach (var application in await ClientsOfAsync(applications, instance.InstanceId, ct))
        {
            var clientId = await applications.GetClientIdAsync(application, ct) ?? "";
            var current = new OpenIddictApplicationDescriptor();
            await applications.PopulateAsync(current, application, ct);
            var wanted = Describe(instance, clientId);
            // Keep the stored (hashed) secret: PopulateAsync copied it into the descriptor.
            wanted.ClientSecret = current.ClientSecret;
            await applications.PopulateAsync(application, wanted, ct);
            await applications.UpdateAsync(application, ct);
        }
    }

    /// <summary>
    /// Revokes a client's tokens and authorizations, then deletes it. The EF Core store deletes a client's token
    /// and authorization entries with it; revoking first keeps that true for any store, and a token entry that is
    /// revoked or gone fails the portal's token entry validation at once.
    /// </summary>
    private static async Task DeleteClientAsync(IServiceProvider services, object application, CancellationToken ct)
    {
        var applications = services.GetRequiredService<IOpenIddictApplicationManager>();
        if (await applications.GetIdAsync(application, ct) is { } id)
        {
            await services.GetRequiredService<IOpenIddictTokenManager>().RevokeByApplicationIdAsync(id, ct);
            await services.GetRequiredService<IOpenIddictAuthorizationManager>().RevokeByApplicationIdAsync(id, ct);
        }

        await applications.DeleteAsync(application, ct);
    }

    /// <summary>The client's registration; the same for a new client and for one brought up to date.</summary>
    private static OpenIddictApplicationDescriptor Describe(InstanceContext instance, string clientId)
    {
        var scopeName = OidcNames.Scope(instance.InstanceId);
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = ClientTypes.Confidential,
            ConsentType = ConsentTypes.Implicit,
            DisplayName = $"App client of instance {instance.InstanceId}",
            Permissions =
            {
                Permissions.Endpoints.Token,
                Permissions.GrantTypes.ClientCredentials,
                Permissions.Prefixes.Scope + scopeName,
            },
        };
        descriptor.Properties[OidcNames.InstanceProperty] = JsonSerializer.SerializeToElement(instance.InstanceId.ToString());
        if (instance.Limits.TryGetValue(AccessTokenMinutesLimit, out var minutes) && minutes > 0)
        {
            descriptor.Settings[Settings.TokenLifetimes.AccessToken] =
                TimeSpan.FromMinutes(minutes).ToString("c", CultureInfo.InvariantCulture);
        }

        var redirects = SplitUris(instance.Parameters.GetValueOrDefault(RedirectUrisParameter)).Where(IsAcceptableRedirectUri).ToList();
        if (redirects.Count > 0)
        {
            foreach (var uri in redirects)
            {
                descriptor.RedirectUris.Add(new Uri(uri));
            }

            descriptor.Permissions.UnionWith(
            [
                Permissions.Endpoints.Authorization,
                Permissions.GrantTypes.AuthorizationCode,
                Permissions.ResponseTypes.Code,
                Permissions.Scopes.Profile,
                Permissions.Scopes.Email,
            ]);
            descriptor.Requirements.Add(Requirements.Features.ProofKeyForCodeExchange);
        }

        return descriptor;
    }

    /// <summary>
    /// The binding clients of an instance: named like one, and allowed its scope or recording the instance in their
    /// properties (so a client whose permissions were changed by hand is still found).
    /// </summary>
    private static async Task<List<object>> ClientsOfAsync(IOpenIddictApplicationManager applications, Guid instanceId, CancellationToken ct)
    {
        var permission = Permissions.Prefixes.Scope + OidcNames.Scope(instanceId);
        var found = new List<object>();
        await foreach (var application in applications.ListAsync(count: null, offset: null, ct))
        {
            var clientId = await applications.GetClientIdAsync(application, ct);
            if (clientId?.StartsWith(OidcNames.ClientPrefix, StringComparison.Ordinal) == true &&
                ((await applications.GetPermissionsAsync(application, ct)).Contains(permission)
                 || (await applications.GetPropertiesAsync(application, ct)).TryGetValue(OidcNames.InstanceProperty, out var recorded)
                    && recorded.ValueKind == JsonValueKind.String && recorded.GetString() == instanceId.ToString()))
            {
                found.Add(application);
            }
        }

        return found;
    }

    /// <summary>How a client's registration differs from the one the driver gives it; never names its secret.</summary>
    private static IEnumerable<string> ClientDrift(string clientId, OpenIddictApplicationDescriptor actual, OpenIddictApplicationDescriptor wanted)
    {
        if (actual.ClientType != wanted.ClientType)
        {
            yield return $"client {clientId} is {actual.ClientType ?? "of no type"}, not {wanted.ClientType}";
        }

        if (string.IsNullOrEmpty(actual.ClientSecret))
        {
            yield return $"client {clientId} has no secret";
        }

        foreach (var (what, has, should) in new[]
        {
            ("permissions", actual.Permissions.ToList(), wanted.Permissions.ToList()),
            ("requirements", actual.Requirements.ToList(), wanted.Requirements.ToList()),
            ("redirect URIs", actual.RedirectUris.Select(u => u.AbsoluteUri).ToList(), wanted.RedirectUris.Select(u => u.AbsoluteUri).ToList()),
        })
        {
            if (has.Except(should, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList() is { Count: > 0 } extra)
            {
                yield return $"client {clientId} has the {what} {string.Join(", ", extra)}, which the instance does not give";
            }

            if (should.Except(has, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList() is { Count: > 0 } missing)
            {
                yield return $"client {clientId} lacks the {what} {string.Join(", ", missing)}";
            }
        }

        var lifetime = actual.Settings.GetValueOrDefault(Settings.TokenLifetimes.AccessToken);
        var plan = wanted.Settings.GetValueOrDefault(Settings.TokenLifetimes.AccessToken);
        if (lifetime != plan)
        {
            yield return $"the access token lifetime of client {clientId} is {lifetime ?? "the server's default"}, the plan says {plan ?? "the server's default"}";
        }
    }

    private static Uri Issuer(BackendEndpoint backend)
    {
        var text = backend.Setting(IssuerSetting) ?? throw new InvalidOperationException("The oidc backend has no issuer setting.");
        var uri = new Uri(text, UriKind.Absolute);
        return uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
    }

    private static IEnumerable<string> SplitUris(string? text) =>
        (text ?? "").Split([' ', ',', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    internal static bool IsAcceptableRedirectUri(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && string.IsNullOrEmpty(uri.Fragment) &&
        (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback));
}

/// <summary>OpenIddict names of an oidc instance and its bindings, derived from their ids.</summary>
public static class OidcNames
{
    public const string ClientPrefix = "pb_";

    /// <summary>The application property that records the instance a client belongs to.</summary>
    public const string InstanceProperty = "portal_instance";

    /// <summary>The instance's scope, also the audience (resource) of its tokens.</summary>
    public static string Scope(Guid instanceId) => "pi_" + instanceId.ToString("N");

    /// <summary>
    /// The client id of one credential generation of a binding: <c>pb_&lt;id&gt;</c> for generation 0 (the id
    /// bindings had before rotation), <c>pb_&lt;id&gt;_g&lt;n&gt;</c> for a rotation's generation n.
    /// </summary>
    public static string Client(Guid bindingId, int generation = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(generation);
        var root = ClientPrefix + bindingId.ToString("N");
        return generation == 0 ? root : root + "_g" + generation.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The binding and generation of a client id <see cref="Client"/> makes; null for any other id.</summary>
    public static BindingGeneration? ParseClient(string clientId) => BindingNames.Parse(clientId, ClientPrefix, "_g");

    /// <summary>True for a client id <see cref="Client"/> makes for <paramref name="bindingId"/>, whatever its generation.</summary>
    public static bool IsClientOf(string clientId, Guid bindingId)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        var root = Client(bindingId);
        if (clientId == root)
        {
            return true;
        }

        // The suffix is a generation as Client writes it: digits without a leading zero, never "_g0".
        var suffix = clientId.StartsWith(root + "_g", StringComparison.Ordinal) ? clientId[(root.Length + 2)..] : "";
        return suffix.Length is > 0 and <= 10 && suffix[0] != '0' && suffix.All(char.IsAsciiDigit)
            && int.TryParse(suffix, NumberStyles.None, CultureInfo.InvariantCulture, out _);
    }
}
