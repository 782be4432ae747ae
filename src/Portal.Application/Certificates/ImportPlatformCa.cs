using Portal.Application.Access;

namespace Portal.Application.Certificates;

/// <summary>
/// Replaces the platform CA with the company's own (certificate and unencrypted key, PEM). Platform admins only:
/// <see cref="PlatformCa.ImportAsync"/> checks it, so no other caller can skip it.
/// </summary>
public sealed class ImportPlatformCaHandler(PlatformCa ca)
{
    public Task<CaView> HandleAsync(Actor actor, string? certificatePem, string? keyPem, CancellationToken ct = default) =>
        ca.ImportAsync(actor, certificatePem, keyPem, ct);
}
