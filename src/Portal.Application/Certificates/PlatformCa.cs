using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Data.Security;
using Portal.Provisioning.Certificates;

namespace Portal.Application.Certificates;

/// <summary>Settings of the platform CA, from the <c>Ca</c> section.</summary>
public sealed class CaOptions
{
    /// <summary>
    /// A company CA to import on first start (PEM certificate and key files); without them the portal makes its
    /// own root. Once the CA is in the database these are not read again (import a new one through the API).
    /// </summary>
    public string? CertificateFile { get; set; }

    public string? KeyFile { get; set; }

    /// <summary>The common name of a root the portal makes itself.</summary>
    public string CommonName { get; set; } = "Portal Platform CA";

    public int ValidityYears { get; set; } = 10;
}

/// <summary>What anybody may know about the platform CA (no sign-in needed).</summary>
public sealed record CaView(string Subject, DateTimeOffset NotAfter, string Sha256Fingerprint, string Source, string CertificatePem);

/// <summary>
/// The platform CA, kept in the database with its key encrypted by Data Protection (<see cref="PlatformCaRecord"/>):
/// made (or imported from <see cref="CaOptions"/>) on first start, then held by each process, which checks every
/// minute that it is still the stored one (another host may have imported a new one).
/// </summary>
public sealed class PlatformCa(
    IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, IOptions<CaOptions> options, TimeProvider clock,
    ILogger<PlatformCa> logger) : IDisposable
{
    private static readonly TimeSpan RecheckAfter = TimeSpan.FromMinutes(1);

    private readonly SemaphoreSlim _gate = new(1, 1);

    public void Dispose() => _gate.Dispose();
    private (CertificateAuthority Ca, string Source)? _current;
    private DateTimeOffset _checkedAt;

    public async Task<CertificateAuthority> GetAsync(CancellationToken ct = default) => (await LoadAsync(ct)).Ca;

    internal async Task<CaView> ViewAsync(CancellationToken ct = default)
    {
        var (ca, source) = await LoadAsync(ct);
        return new CaView(ca.Subject, ca.NotAfter, ca.Sha256Fingerprint, source, ca.CertificatePem);
    }

    /// <summary>
    /// Replaces the platform CA with the company's own (certificate and key, PEM). Platform admins only. Backends
    /// serving certificates of the old CA and the certificates bindings hold stay as they are until re-issued.
    /// Pages and the API import through <see cref="ImportPlatformCaHandler"/>.
    /// </summary>
    internal async Task<CaView> ImportAsync(Actor actor, string? certificatePem, string? keyPem, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Text(certificatePem, "certificatePem", InputRules.PemLength, multiLine: true)
            .Text(keyPem, "keyPem", InputRules.PemLength, multiLine: true)
            .Require(!string.IsNullOrWhiteSpace(certificatePem), "certificatePem", "Give the CA certificate (PEM).")
            .Require(!string.IsNullOrWhiteSpace(keyPem), "keyPem", "Give the CA's private key (PEM, unencrypted).")
            .ThrowIfInvalid();
        var ca = Read(certificatePem!, keyPem!);

        await _gate.WaitAsync(ct);
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var now = clock.GetUtcNow();
            await db.PlatformCa.Where(c => c.Id == PlatformCaRecord.CurrentId).ExecuteDeleteAsync(ct);
            db.PlatformCa.Add(Record(ca, "imported", now));
            db.Audit(actor, now, "ca.imported", "ca", null, null, $"{ca.Subject}, SHA-256 {ca.Sha256Fingerprint}");
            await db.SaveChangesAsync(ct);
            _current = (ca, "imported");
            _checkedAt = now;
            logger.LogInformation("Platform CA replaced by an imported one: {Subject} ({Fingerprint})", ca.Subject, ca.Sha256Fingerprint);
        }
        finally
        {
            _gate.Release();
        }

        return await ViewAsync(ct);
    }

    private async Task<(CertificateAuthority Ca, string Source)> LoadAsync(CancellationToken ct)
    {
        if (_current is { } current && clock.GetUtcNow() - _checkedAt < RecheckAfter)
        {
            return current;
        }

        await _gate.WaitAsync(ct);
        try
        {
            var now = clock.GetUtcNow();
            if (_current is { } checkedMeanwhile && now - _checkedAt < RecheckAfter)
            {
                return checkedMeanwhile;
            }

            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var stored = await db.PlatformCa.AsNoTracking().FirstOrDefaultAsync(c => c.Id == PlatformCaRecord.CurrentId, ct)
                ?? await CreateAsync(db, ct);
            if (_current is not { } held || held.Ca.CertificatePem != stored.CertificatePem.Trim())
            {
                _current = (CertificateAuthority.FromPem(stored.CertificatePem, secrets.Unprotect(stored.ProtectedKeyPem), clock), stored.Source);
            }

            _checkedAt = now;
            return _current.Value;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<PlatformCaRecord> CreateAsync(PortalDbContext db, CancellationToken ct)
    {
        var settings = options.Value;
        var now = clock.GetUtcNow();
        PlatformCaRecord record;
        if (!string.IsNullOrWhiteSpace(settings.CertificateFile) || !string.IsNullOrWhiteSpace(settings.KeyFile))
        {
            if (!File.Exists(settings.CertificateFile) || !File.Exists(settings.KeyFile))
            {
                throw new InvalidOperationException(
                    $"Ca:CertificateFile and Ca:KeyFile must both name readable PEM files (got '{settings.CertificateFile}', '{settings.KeyFile}').");
            }

            using var imported = Read(await File.ReadAllTextAsync(settings.CertificateFile, ct), await File.ReadAllTextAsync(settings.KeyFile, ct));
            record = Record(imported, "imported", now);
        }
        else
        {
            using var created = CertificateAuthority.CreateRoot(settings.CommonName, TimeSpan.FromDays(365.25 * settings.ValidityYears), clock);
            record = Record(created, "generated", now);
        }

        db.PlatformCa.Add(record);
        try
        {
            await db.SaveChangesAsync(ct);
            logger.LogInformation("Platform CA {Source} and stored (key encrypted)", record.Source);
            return record;
        }
        catch (DbUpdateException e) when (e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // Another host made it first: use theirs.
            db.ChangeTracker.Clear();
            return await db.PlatformCa.AsNoTracking().FirstAsync(c => c.Id == PlatformCaRecord.CurrentId, ct);
        }
    }

    private PlatformCaRecord Record(CertificateAuthority ca, string source, DateTimeOffset now) => new()
    {
        CertificatePem = ca.CertificatePem,
        ProtectedKeyPem = secrets.Protect(ca.ExportPrivateKeyPem()),
        Source = source,
        CreatedAt = now,
    };

    private CertificateAuthority Read(string certificatePem, string keyPem)
    {
        try
        {
            var ca = CertificateAuthority.FromPem(certificatePem, keyPem, clock);
            if (ca.NotAfter <= clock.GetUtcNow())
            {
                ca.Dispose();
                throw ValidationException.For("certificatePem", "The CA certificate has expired.");
            }

            return ca;
        }
        catch (FormatException e)
        {
            throw ValidationException.For("certificatePem", e.Message);
        }
    }
}

/// <summary>Makes (or imports) the platform CA when a host starts, so the first binding does not wait for it.</summary>
internal sealed class PlatformCaStartup(PlatformCa ca) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => ca.GetAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
