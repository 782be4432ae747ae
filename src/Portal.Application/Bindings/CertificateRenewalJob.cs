using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Portal.Application.Audit;
using Portal.Application.Certificates;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Bindings;
using Portal.Provisioning.Certificates;

namespace Portal.Application.Bindings;

/// <summary>Settings of <see cref="CertificateRenewalJob"/>, from the <c>Bindings</c> section.</summary>
public sealed class CertificateRenewalOptions
{
    /// <summary>Cron schedule of the renewal run (Bindings:RenewalSchedule); every 15 minutes by default.</summary>
    public string RenewalSchedule { get; set; } = "*/15 * * * *";
}

/// <summary>
/// Recurring: gives bindings a new client certificate (same user, new key) once two thirds of the current one's
/// validity have passed. The old certificate keeps working until it expires, so apps pick the new one up at leisure.
/// </summary>
public sealed class CertificateRenewalJob(
    IDbContextFactory<PortalDbContext> dbFactory, PlatformCa platformCa, SecretProtector secrets, Webhooks.WebhookPublisher webhooks,
    TimeProvider clock, ILogger<CertificateRenewalJob> logger)
{
    public const string RecurringJobId = "binding-certificate-renewal";

    public async Task RunAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var candidates = await (from b in db.Bindings
                                join i in db.Instances on b.InstanceId equals i.Id
                                join p in db.Plans on i.PlanId equals p.Id
                                where b.State == BindingState.Ready && b.CertificateExpiresAt != null
                                select new { b.Id, b.CertificateExpiresAt, p.Limits }).ToListAsync(ct);
        var now = clock.GetUtcNow();
        foreach (var candidate in candidates)
        {
            var validity = CredentialKeys.CertificateValidity(candidate.Limits);
            if (candidate.CertificateExpiresAt!.Value - now <= validity / 3)
            {
                try
                {
                    await RenewAsync(candidate.Id, ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Renewing the certificate of binding {BindingId} failed; the next run tries again", candidate.Id);
                }
            }
        }
    }

    /// <summary>Issues the binding's next certificate now, for the same user (the common name of the current one).</summary>
    public async Task<DateTimeOffset> RenewAsync(Guid bindingId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var binding = await db.Bindings.FirstAsync(b => b.Id == bindingId, ct);
        var instance = await db.Instances.AsNoTracking().FirstAsync(i => i.Id == binding.InstanceId, ct);
        var plan = await db.Plans.AsNoTracking().FirstAsync(p => p.Id == instance.PlanId, ct);
        var values = JsonSerializer.Deserialize<Dictionary<string, string>>(secrets.Unprotect(binding.ProtectedCredentials!))!;
        var commonName = IssuedCertificate.CommonNameOf(values[CredentialKeys.Certificate]);
        var ca = await platformCa.GetAsync(ct);
        var issued = ca.IssueClient(commonName, CredentialKeys.CertificateValidity(plan.Limits));
        values[CredentialKeys.Certificate] = issued.CertificatePem;
        values[CredentialKeys.PrivateKey] = issued.PrivateKeyPem;
        values[CredentialKeys.CaCertificate] = ca.CertificatePem;
        binding.ProtectedCredentials = secrets.Protect(JsonSerializer.Serialize(values));
        binding.CertificateExpiresAt = issued.NotAfter;
        db.Audit(null, clock.GetUtcNow(), "binding.certificate-renewed", "binding", binding.Id, instance.TeamId,
            $"{binding.AppName} on {instance.Name}: serial {issued.SerialNumber}, valid until {issued.NotAfter:u}");
        await db.SaveChangesAsync(ct);
        await webhooks.PublishAsync(Portal.Domain.Webhooks.WebhookEvents.BindingCertificateRenewed, instance.TeamId,
            BindingWebhooks.Data(instance, binding), ct);
        return issued.NotAfter;
    }
}
