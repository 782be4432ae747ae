using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using Portal.Provisioning;

namespace Portal.Application.Bindings;

/// <summary>
/// Read tokens: what a binding of a log stream or a monitoring instance uses to read its own logs or
/// series through the portal's read API (<c>/read/v1/bindings/{id}/…</c>). Only a hash is stored beside
/// the binding; the token itself lives in the encrypted credentials.
/// </summary>
public static class ReadTokens
{
    public const string Prefix = "prt_";

    public static string New() => Prefix + SecretGenerator.Password(40);

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>True when the driver's instances are read through the portal.</summary>
    public static bool Applies(IServiceDriver driver) => driver is ILogStreamDriver or IMonitoringDriver;

    /// <summary>Adds the read URL and token to a binding's credentials.</summary>
    public static void AddReadAccess(
        IDictionary<string, string> credentials, IServiceDriver driver, Guid bindingId, string token, IConfiguration configuration)
    {
        var what = driver is ILogStreamDriver ? "logs" : "metrics";
        credentials["readUrl"] = new Uri(PublicBaseUrl(configuration), $"read/v1/bindings/{bindingId}/{what}").AbsoluteUri;
        credentials["readToken"] = token;
    }

    /// <summary>The portal's public base URL: <c>Portal:PublicUrl</c>, else the OIDC issuer, else localhost.</summary>
    public static Uri PublicBaseUrl(IConfiguration configuration)
    {
        var text = configuration["Portal:PublicUrl"] is { Length: > 0 } url ? url
            : configuration["Auth:Issuer"] is { Length: > 0 } issuer ? issuer
            : "http://localhost/";
        return new Uri(text.EndsWith('/') ? text : text + "/");
    }

    /// <summary>Compares a presented token with a stored hash in constant time.</summary>
    public static bool Matches(string? presented, string? storedHash) =>
        presented is { Length: > 0 } && storedHash is { Length: 64 } &&
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(presented)), Encoding.ASCII.GetBytes(storedHash));
}
