using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Portal.Provisioning.Certificates;

/// <summary>
/// The platform certificate authority: a root certificate with its private key that issues the short-lived
/// client certificates of bindings (and server certificates on request), and that apps and drivers trust to
/// verify backend servers. Pure crypto; where the key is kept is the application's business.
/// </summary>
public sealed class CertificateAuthority : IDisposable
{
    /// <summary>Certificates start this long before "now", so a server whose clock is a little behind accepts them.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private readonly X509Certificate2 _root;
    private readonly TimeProvider _clock;

    private CertificateAuthority(X509Certificate2 root, TimeProvider? clock)
    {
        _root = root;
        _clock = clock ?? TimeProvider.System;
        CertificatePem = root.ExportCertificatePem();
    }

    /// <summary>The CA certificate in PEM: the public part, given to every app and backend.</summary>
    public string CertificatePem { get; }

    public string Subject => _root.Subject;

    public DateTimeOffset NotAfter => new(_root.NotAfter.ToUniversalTime());

    /// <summary>SHA-256 fingerprint of the CA certificate, hex with colons, as <c>openssl x509 -fingerprint -sha256</c> prints it.</summary>
    public string Sha256Fingerprint => string.Join(':', _root.GetCertHash(HashAlgorithmName.SHA256).Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));

    /// <summary>Makes a new self-signed root with an ECDSA P-256 key.</summary>
    public static CertificateAuthority CreateRoot(string commonName, TimeSpan validity, TimeProvider? clock = null)
    {
        var now = (clock ?? TimeProvider.System).GetUtcNow();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(commonName)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var root = request.CreateSelfSigned(now - ClockSkew, now + validity);
        return new CertificateAuthority(root, clock);
    }

    /// <summary>
    /// Loads a CA from its certificate and private key (PEM; RSA or ECDSA, PKCS#8 or traditional), e.g. one a
    /// company imports. Refuses a certificate that is not a CA or a key that does not belong to it.
    /// </summary>
    public static CertificateAuthority FromPem(string certificatePem, string privateKeyPem, TimeProvider? clock = null)
    {
        X509Certificate2 root;
        try
        {
            root = X509Certificate2.CreateFromPem(certificatePem, privateKeyPem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new FormatException($"The CA certificate and key could not be read together: {e.Message}", e);
        }

        var constraints = root.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (constraints is not { CertificateAuthority: true })
        {
            root.Dispose();
            throw new FormatException("The certificate is not a certificate authority (its basic constraints do not say CA:TRUE).");
        }

        if (root.GetECDsaPrivateKey() is null && root.GetRSAPrivateKey() is null)
        {
            root.Dispose();
            throw new FormatException("The CA key must be RSA or ECDSA.");
        }

        return new CertificateAuthority(root, clock);
    }

    /// <summary>The CA's private key in PKCS#8 PEM, for encrypted storage. A secret: never log it.</summary>
    public string ExportPrivateKeyPem()
    {
        using AsymmetricAlgorithm key = (AsymmetricAlgorithm?)_root.GetECDsaPrivateKey() ?? _root.GetRSAPrivateKey()!;
        return key.ExportPkcs8PrivateKeyPem();
    }

    /// <summary>
    /// Issues a client certificate (ECDSA P-256, extended key usage clientAuth) whose subject is
    /// <c>CN=<paramref name="commonName"/></c> — the backend user it authenticates as.
    /// </summary>
    public IssuedCertificate IssueClient(string commonName, TimeSpan validity) =>
        Issue(commonName, validity, Oids.ClientAuth, sans: null);

    /// <summary>Issues a server certificate for host names and IP addresses (subject alternative names).</summary>
    public IssuedCertificate IssueServer(IReadOnlyList<string> names, TimeSpan validity)
    {
        if (names.Count == 0)
        {
            throw new ArgumentException("A server certificate needs at least one name.", nameof(names));
        }

        var sans = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            if (IPAddress.TryParse(name, out var ip))
            {
                sans.AddIpAddress(ip);
            }
            else
            {
                sans.AddDnsName(name);
            }
        }

        return Issue(names[0], validity, Oids.ServerAuth, sans);
    }

    private IssuedCertificate Issue(string commonName, TimeSpan validity, string usage, SubjectAlternativeNameBuilder? sans)
    {
        if (string.IsNullOrWhiteSpace(commonName))
        {
            throw new ArgumentException("A certificate needs a common name.", nameof(commonName));
        }

        if (validity <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(validity), "A certificate's validity must be positive.");
        }

        var now = _clock.GetUtcNow();
        var notBefore = now - ClockSkew;
        var notAfter = now + validity;
        if (notAfter > NotAfter)
        {
            notAfter = NotAfter; // never outlive the CA
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(commonName)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        // A company root without a subject key identifier is still a valid issuer; the leaf then names none.
        if (_root.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Any())
        {
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_root, true, false));
        }
        if (sans is not null)
        {
            request.CertificateExtensions.Add(sans.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive number
        using var ecKey = _root.GetECDsaPrivateKey();
        using var rsaKey = ecKey is null ? _root.GetRSAPrivateKey() : null;
        var generator = ecKey is not null
            ? X509SignatureGenerator.CreateForECDsa(ecKey)
            : X509SignatureGenerator.CreateForRSA(rsaKey!, RSASignaturePadding.Pkcs1);
        using var issued = request.Create(_root.SubjectName, generator, notBefore, notAfter, serial);
        return new IssuedCertificate(
            issued.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), notBefore, notAfter, Convert.ToHexString(serial));
    }

    /// <summary>
    /// True when <paramref name="certificate"/> chains to this CA (and only this CA: the system's trust store is
    /// ignored). For <see cref="SslClientAuthenticationOptions.RemoteCertificateValidationCallback"/>: host name
    /// mismatches still fail.
    /// </summary>
    public bool Verifies(X509Certificate? certificate, SslPolicyErrors errors = SslPolicyErrors.None) =>
        ChainsTo(_root, certificate, errors, _clock.GetUtcNow().UtcDateTime);

    /// <summary>
    /// True when <paramref name="certificate"/> chains to <paramref name="root"/> alone (the system's trust store is
    /// ignored) at <paramref name="at"/> (default: now) and <paramref name="errors"/> report no host name mismatch.
    /// The one chain rule of the portal's TLS clients, and of tests that connect as an app given only <c>ca.crt</c>.
    /// </summary>
    public static bool ChainsTo(X509Certificate2 root, X509Certificate? certificate, SslPolicyErrors errors = SslPolicyErrors.None, DateTime? at = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        using var leaf = new X509Certificate2(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (at is { } time)
        {
            chain.ChainPolicy.VerificationTime = time;
        }

        return chain.Build(leaf);
    }

    /// <summary>A server certificate check that trusts the CA certificate in <paramref name="caPem"/> (a binding's <c>ca.crt</c>) and nothing else.</summary>
    public static RemoteCertificateValidationCallback TrustOnly(string caPem)
    {
        var root = X509Certificate2.CreateFromPem(caPem);
        return (_, certificate, _, errors) => ChainsTo(root, certificate, errors);
    }

    /// <summary>A callback for <see cref="System.Net.Http.SocketsHttpHandler"/> and <see cref="SslStream"/> that trusts this CA only.</summary>
    public RemoteCertificateValidationCallback ServerValidator => (_, certificate, _, errors) => Verifies(certificate, errors);

    public void Dispose() => _root.Dispose();

    /// <summary>Quotes a common name when it holds characters X.500 names treat specially.</summary>
    private static string Escape(string commonName) =>
        commonName.IndexOfAny([',', '+', '"', '\\', '<', '>', ';', '=']) >= 0 ? $"\"{commonName.Replace("\"", "\\\"")}\"" : commonName;

    private static class Oids
    {
        public const string ServerAuth = "1.3.6.1.5.5.7.3.1";
        public const string ClientAuth = "1.3.6.1.5.5.7.3.2";
    }
}

/// <summary>A certificate the platform CA issued, with its private key (a secret: kept only in encrypted credentials).</summary>
public sealed record IssuedCertificate(string CertificatePem, string PrivateKeyPem, DateTimeOffset NotBefore, DateTimeOffset NotAfter, string SerialNumber)
{
    /// <summary>The certificate with its key, for a .NET client (SslStream, Npgsql, RabbitMQ.Client).</summary>
    public X509Certificate2 ToX509() => X509Certificate2.CreateFromPem(CertificatePem, PrivateKeyPem);

    // Keep the key out of logs.
    public override string ToString() => $"IssuedCertificate(serial {SerialNumber}, until {NotAfter:u})";

    /// <summary>The common name of a PEM certificate's subject, e.g. to renew a certificate for the same user.</summary>
    public static string CommonNameOf(string certificatePem)
    {
        using var certificate = X509Certificate2.CreateFromPem(certificatePem);
        return certificate.GetNameInfo(X509NameType.SimpleName, false);
    }

    /// <summary>When a PEM certificate expires.</summary>
    public static DateTimeOffset NotAfterOf(string certificatePem)
    {
        using var certificate = X509Certificate2.CreateFromPem(certificatePem);
        return new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
    }
}
