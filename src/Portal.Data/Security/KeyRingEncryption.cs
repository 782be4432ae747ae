using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Portal.Data.Security;

/// <summary>
/// Encrypts the Data Protection key ring with a certificate when <c>DataProtection:CertificatePath</c>
/// (a PFX file, password in <c>DataProtection:CertificatePassword</c>) is set. The key ring lives in the
/// same database as the secrets it protects; encrypting it means a copy of the database alone does not
/// reveal backend passwords or binding credentials. Every host that reads the secrets needs the file. Outside
/// Development a host refuses to start without it (<see cref="ProductionChecks"/>).
/// </summary>
public static class KeyRingEncryption
{
    /// <remarks>
    /// Read while the services are registered (Data Protection takes the certificate itself, and its
    /// decryption options are internal): set it in the environment or appsettings, not in a test host.
    /// </remarks>
    public static IDataProtectionBuilder ProtectKeysWithConfiguredCertificate(this IDataProtectionBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // Checks what Data Protection will really do, so a key ring encrypted some other way passes too.
        builder.Services.AddProductionCheck(services =>
            services.GetRequiredService<IOptions<KeyManagementOptions>>().Value.XmlEncryptor is null
                ? UnencryptedMessage
                : null);
        var path = configuration["DataProtection:CertificatePath"];
        if (string.IsNullOrEmpty(path))
        {
            return builder;
        }

        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"DataProtection:CertificatePath names {path}, which does not exist.");
        }

        var certificate = X509CertificateLoader.LoadPkcs12FromFile(
            path, configuration["DataProtection:CertificatePassword"], X509KeyStorageFlags.EphemeralKeySet);
        return builder.ProtectKeysWithCertificate(certificate).UnprotectKeysWithAnyCertificate(certificate);
    }

    /// <summary>What start-up says outside Development when the key ring would be stored unencrypted.</summary>
    public const string UnencryptedMessage =
        "the Data Protection key ring would be stored unencrypted in the database, next to the secrets it protects. " +
        "Set DataProtection:CertificatePath to a PFX certificate with its private key (and DataProtection:CertificatePassword); " +
        "`ops/portal up` makes one in <data>/keys.";
}
