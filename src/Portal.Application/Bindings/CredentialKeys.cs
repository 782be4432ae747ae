using Portal.Provisioning;

namespace Portal.Application.Bindings;

/// <summary>Names of the certificate entries in a binding's credentials (servicebinding.io's), and the plan limits of bindings.</summary>
public static class CredentialKeys
{
    /// <summary>The platform CA certificate (PEM): apps verify the server with it. In every binding.</summary>
    public const string CaCertificate = "ca.crt";

    /// <summary>The binding's client certificate (PEM), when it asked for one.</summary>
    public const string Certificate = "tls.crt";

    /// <summary>The client certificate's private key (PKCS#8 PEM).</summary>
    public const string PrivateKey = "tls.key";

    /// <summary>The plan limit that sets how long a client certificate is valid, in hours.</summary>
    public const string CertificateValidityLimit = "certificateValidityHours";

    public static readonly TimeSpan DefaultCertificateValidity = TimeSpan.FromDays(7);

    /// <summary>A client certificate's validity under a plan: its <see cref="CertificateValidityLimit"/>, else 7 days.</summary>
    public static TimeSpan CertificateValidity(IReadOnlyDictionary<string, int> limits) =>
        limits.TryGetValue(CertificateValidityLimit, out var hours) && hours > 0 ? TimeSpan.FromHours(hours) : DefaultCertificateValidity;

    /// <summary>
    /// A kind's plan limits: the driver's own, the rotation schedule, and the certificate validity where it takes client
    /// certificates.
    /// </summary>
    public static IReadOnlyList<DriverField> PlanLimitsOf(IServiceDriver? driver) =>
        driver is null ? []
        : driver.SupportsClientCertificates
            ? [.. driver.PlanLimits, .. ScheduledRotation.PlanLimits, new DriverField(CertificateValidityLimit, "Client certificate validity (hours)",
                "How long a binding's client certificate is valid; renewed after two thirds. Default 168 (7 days).")]
            : [.. driver.PlanLimits, .. ScheduledRotation.PlanLimits];
}
