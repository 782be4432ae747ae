namespace Portal.Application.Certificates;

/// <summary>The platform CA's public certificate and facts. Open to anybody, no sign-in needed.</summary>
public sealed class GetPlatformCaHandler(PlatformCa ca)
{
    public Task<CaView> HandleAsync(CancellationToken ct = default) => ca.ViewAsync(ct);
}
