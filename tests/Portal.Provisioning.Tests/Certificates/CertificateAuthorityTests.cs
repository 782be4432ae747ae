using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Portal.Provisioning.Certificates;

namespace Portal.Provisioning.Tests.Certificates;

/// <summary>The platform CA's crypto, on its own (no server): roots, issued certificates, import and trust.</summary>
public sealed class CertificateAuthorityTests
{
    [Fact]
    public void IssuedClientCertificate_ChainsToItsRoot_HasTheUserAsCn_AndClientAuthOnly()
    {
        using var ca = CertificateAuthority.CreateRoot("Test Platform CA", TimeSpan.FromDays(365));
        var issued = ca.IssueClient("pb_0123", TimeSpan.FromHours(2));
        using var certificate = issued.ToX509();

        Assert.True(certificate.HasPrivateKey);
        Assert.Equal("pb_0123", IssuedCertificate.CommonNameOf(issued.CertificatePem));
        Assert.Equal("CN=Test Platform CA", certificate.Issuer);
        Assert.True(ca.Verifies(certificate));
        var usage = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single();
        Assert.Equal(["1.3.6.1.5.5.7.3.2"], usage.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value));
        Assert.False(certificate.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.InRange(issued.NotAfter - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(119), TimeSpan.FromMinutes(121));
        Assert.DoesNotContain("PRIVATE", issued.ToString());
    }

    [Fact]
    public void AnotherCasCertificate_IsNotVerified_NorAServerCertificateForAnotherName()
    {
        using var ca = CertificateAuthority.CreateRoot("Ours", TimeSpan.FromDays(30));
        using var other = CertificateAuthority.CreateRoot("Theirs", TimeSpan.FromDays(30));
        using var foreign = other.IssueServer(["127.0.0.1"], TimeSpan.FromDays(1)).ToX509();
        Assert.False(ca.Verifies(foreign));

        using var server = ca.IssueServer(["127.0.0.1", "localhost"], TimeSpan.FromDays(1)).ToX509();
        Assert.True(ca.Verifies(server));
        Assert.False(ca.Verifies(server, System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch));
        var names = server.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains("localhost", names.EnumerateDnsNames());
        Assert.Contains(System.Net.IPAddress.Loopback, names.EnumerateIPAddresses());
    }

    [Fact]
    public void ExportedAndReimported_IssuesCertificatesTheOriginalTrusts_NeverBeyondItsOwnExpiry()
    {
        using var original = CertificateAuthority.CreateRoot("Round Trip CA", TimeSpan.FromDays(10));
        using var reloaded = CertificateAuthority.FromPem(original.CertificatePem, original.ExportPrivateKeyPem());
        Assert.Equal(original.Sha256Fingerprint, reloaded.Sha256Fingerprint);
        var issued = reloaded.IssueClient("app", TimeSpan.FromDays(400));
        using var certificate = issued.ToX509();
        Assert.True(original.Verifies(certificate));
        Assert.True(issued.NotAfter <= original.NotAfter);
    }

    [Fact]
    public void FromPem_RefusesALeafCertificate_AndAKeyOfAnotherCertificate()
    {
        using var ca = CertificateAuthority.CreateRoot("CA", TimeSpan.FromDays(10));
        var leaf = ca.IssueClient("not-a-ca", TimeSpan.FromDays(1));
        var notCa = Assert.Throws<FormatException>(() => CertificateAuthority.FromPem(leaf.CertificatePem, leaf.PrivateKeyPem));
        Assert.Contains("not a certificate authority", notCa.Message);

        using var other = CertificateAuthority.CreateRoot("Other", TimeSpan.FromDays(10));
        Assert.Throws<FormatException>(() => CertificateAuthority.FromPem(ca.CertificatePem, other.ExportPrivateKeyPem()));
    }

    [Fact]
    public void ImportsAnRsaCompanyCa_AndSignsEcdsaLeavesWithIt()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=Company Root", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddYears(1));
        using var ca = CertificateAuthority.FromPem(root.ExportCertificatePem(), rsa.ExportRSAPrivateKeyPem());
        using var leaf = ca.IssueClient("svc", TimeSpan.FromHours(1)).ToX509();
        Assert.True(ca.Verifies(leaf));
        Assert.NotNull(leaf.GetECDsaPublicKey());
    }
}
