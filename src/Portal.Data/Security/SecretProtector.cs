using Microsoft.AspNetCore.DataProtection;

namespace Portal.Data.Security;

/// <summary>
/// Encrypts secrets at rest (backend admin passwords, binding credentials, OIDC server keys) with
/// ASP.NET Core Data Protection, whose key ring lives in PostgreSQL so every host can decrypt.
/// </summary>
public sealed class SecretProtector(IDataProtectionProvider provider)
{
    private readonly IDataProtector _protector = provider.CreateProtector("Portal.Secrets.v1");

    public string Protect(string plaintext) => _protector.Protect(plaintext);

    public string Unprotect(string protectedText) => _protector.Unprotect(protectedText);
}
