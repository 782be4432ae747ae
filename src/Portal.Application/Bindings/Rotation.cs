using System.Text.Json;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Certificates;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Access;
using Portal.Domain.Bindings;
using Portal.Domain.Operations;
using Portal.Provisioning.Certificates;

namespace Portal.Application.Bindings;

/// <param name="OverlapMinutes">How long the current credentials keep working beside the new ones; 0 ends them at once.</param>
public sealed record RotateBinding(int? OverlapMinutes);

/// <summary>
/// Rotates a binding: a rotate operation makes the next generation of credentials (new password, new certificate)
/// while the current one keeps working for the overlap the owner chose; then it stops. Developers and owners.
/// </summary>
public sealed class RotateBindingHandler(IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, TimeProvider clock)
{
    public const int MaxOverlapMinutes = 7 * 24 * 60;

    public async Task<AcceptedChange<BindingView>> HandleAsync(
        Actor actor, Guid instanceId, Guid bindingId, RotateBinding request, CancellationToken ct = default)
    {
        var overlap = request.OverlapMinutes ?? 0;
        new Validator()
            .Require(overlap is >= 0 and <= MaxOverlapMinutes, "overlapMinutes",
                $"The overlap is 0 (the old credentials stop at once) to {MaxOverlapMinutes} minutes (7 days).")
            .ThrowIfInvalid();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (binding, instance) = await db.RequireBindingAsync(actor, instanceId, bindingId, TeamPermission.Deploy, ct);
        if (binding.State != BindingState.Ready)
        {
            throw new ConflictException($"Only a Ready binding can be rotated; this one is {binding.State}.");
        }

        await db.RequireNoOperationRunningAsync(instanceId, ct);
        var now = clock.GetUtcNow();
        var operation = new Operation
        {
            InstanceId = instanceId, BindingId = binding.Id, Kind = OperationKind.Rotate, RequestedBy = actor.UserId, CreatedAt = now,
            Overlap = TimeSpan.FromMinutes(overlap),
        };
        db.Operations.Add(operation);
        db.Audit(actor, now, "binding.rotation-requested", "binding", binding.Id, instance.TeamId,
            $"{binding.AppName} on {instance.Name}, overlap {overlap} min");
        await db.SaveOrConflictAsync("The change collides with another one; reload and try again.", ct);
        await queue.EnqueueAsync(operation.Id, ct);
        return new(binding.ToView(), operation.Id);
    }
}

/// <summary>
/// Retires a binding's previous generation once its overlap has passed: a retire operation removes it from the
/// backend. Scheduled by the rotation; the recurring sweep catches one whose scheduled job was lost.
/// </summary>
public sealed class RetireDueJob(
    IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, IBackgroundJobClient jobs, TimeProvider clock)
{
    public const string RecurringJobId = "binding-retire-due";

    /// <summary>How long to wait when another operation of the instance is running.</summary>
    public static readonly TimeSpan BusyDelay = TimeSpan.FromSeconds(20);

    public async Task RunAsync(Guid bindingId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var binding = await db.Bindings.AsNoTracking().FirstOrDefaultAsync(b => b.Id == bindingId, ct);
        var now = clock.GetUtcNow();
        if (binding is not { State: BindingState.Ready, RetiringGeneration: not null, RetireAt: { } due } || due > now)
        {
            return;
        }

        if (await db.Operations.AnyAsync(o => o.InstanceId == binding.InstanceId &&
                                              (o.State == OperationState.Queued || o.State == OperationState.Running), ct))
        {
            jobs.Schedule<RetireDueJob>(job => job.RunAsync(bindingId, CancellationToken.None), BusyDelay);
            return;
        }

        var operation = new Operation
        {
            InstanceId = binding.InstanceId, BindingId = binding.Id, Kind = OperationKind.Retire, RequestedBy = Guid.Empty, CreatedAt = now,
        };
        db.Operations.Add(operation);
        await db.SaveChangesAsync(ct);
        await queue.EnqueueAsync(operation.Id, ct);
    }

    public async Task SweepAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow();
        var due = await db.Bindings.Where(b => b.RetireAt != null && b.RetireAt <= now && b.State == BindingState.Ready)
            .Select(b => b.Id).ToListAsync(ct);
        foreach (var id in due)
        {
            await RunAsync(id, ct);
        }
    }
}

/// <summary>Settings of <see cref="CertificateRenewalJob"/>, from the <c>Bindings</c> section.</summary>
public sealed class CertificateRenewalOptions
{
    /// <summary>Cron schedule of the renewal run (Bindings:RenewalSchedule); every 15 minutes by default.</summary>
    public string Schedule { get; set; } = "*/15 * * * *";
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
