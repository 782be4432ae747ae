using Portal.Application.Certificates;
using Portal.Data.Security;
using Portal.Domain.Backends;
using Portal.Provisioning;

namespace Portal.Application.Backends;

/// <summary>
/// What a driver needs to reach a backend: its address, the admin password decrypted, and the platform CA
/// (the only root trusted for the backend's TLS, and the issuer of client certificates).
/// </summary>
public sealed class BackendEndpoints(SecretProtector secrets, PlatformCa ca)
{
    public async Task<BackendEndpoint> ForAsync(Backend backend, CancellationToken ct) =>
        backend.ToEndpoint(secrets) with { PlatformCa = await ca.GetAsync(ct) };
}
