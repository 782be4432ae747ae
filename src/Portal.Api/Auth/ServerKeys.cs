using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Npgsql;
using OpenIddict.Server;
using Portal.Data;
using Portal.Data.Security;

namespace Portal.Api.Auth;

/// <summary>
/// Gives the OIDC server its signing and encryption keys from the database, creating them on first
/// use. Keys that survive restarts (and are shared by every web host) keep issued tokens valid;
/// OpenIddict's ephemeral keys would not.
/// </summary>
internal sealed class ServerKeys(IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, TimeProvider clock)
    : IConfigureOptions<OpenIddictServerOptions>
{
    public void Configure(OpenIddictServerOptions options)
    {
        var signing = LoadOrCreate("signing");
        var encryption = LoadOrCreate("encryption");
        options.SigningCredentials.Add(new SigningCredentials(signing, SecurityAlgorithms.RsaSha256));
        options.EncryptionCredentials.Add(
            new EncryptingCredentials(encryption, SecurityAlgorithms.RsaOAEP, SecurityAlgorithms.Aes256CbcHmacSha512));
    }

    private RsaSecurityKey LoadOrCreate(string purpose)
    {
        using var db = dbFactory.CreateDbContext();
        var stored = db.ServerKeys.AsNoTracking().FirstOrDefault(k => k.Purpose == purpose);
        if (stored is null)
        {
            using var rsa = RSA.Create(2048);
            var key = new ServerKey
            {
                Purpose = purpose,
                KeyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
                ProtectedPem = secrets.Protect(rsa.ExportPkcs8PrivateKeyPem()),
                CreatedAt = clock.GetUtcNow(),
            };
            db.ServerKeys.Add(key);
            try
            {
                db.SaveChanges();
                stored = key;
            }
            catch (DbUpdateException e) when (e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                // Another host created it first: use theirs.
                db.ChangeTracker.Clear();
                stored = db.ServerKeys.AsNoTracking().First(k => k.Purpose == purpose);
            }
        }

        var loaded = RSA.Create();
        loaded.ImportFromPem(secrets.Unprotect(stored.ProtectedPem));
        return new RsaSecurityKey(loaded) { KeyId = stored.KeyId };
    }
}
