using System.Net.Security;
using Portal.Provisioning.Certificates;

namespace Portal.Provisioning.Http;

/// <summary>The one place that builds an HTTP handler for a TLS backend: it trusts the platform CA and nothing else.</summary>
public static class PlatformCaHandler
{
    /// <summary>
    /// A handler whose server certificates must chain to <paramref name="ca"/> alone (not the system's roots) and
    /// match the host name (<see cref="CertificateAuthority.ServerValidator"/>). Callers may add to it, e.g. a client
    /// certificate.
    /// </summary>
    public static SocketsHttpHandler Create(CertificateAuthority ca)
    {
        ArgumentNullException.ThrowIfNull(ca);
        return new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = ca.ServerValidator },
            // A redirect would carry the admin's credentials elsewhere; a backend API is called where it is.
            AllowAutoRedirect = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        };
    }
}
