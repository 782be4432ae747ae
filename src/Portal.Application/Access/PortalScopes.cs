namespace Portal.Application.Access;

/// <summary>
/// The OAuth scope of the REST API: the OIDC server registers it, <c>/api/v1</c> requires it, and service accounts'
/// clients are allowed it.
/// </summary>
public static class PortalScopes
{
    public const string Api = "portal-api";
}
