using System.Text.Json;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Application.Audit;
using Portal.Application.Backends;
using Portal.Application.Instances;
using Portal.Application.Notifications;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Backends;
using Portal.Domain.Bindings;
using Portal.Domain.Instances;
using Portal.Domain.Operations;
using Portal.Provisioning;

namespace Portal.Application.Operations;

/// <summary>
/// Runs one operation against its backend. The job is re-entrant: it re-reads the operation first and
/// returns if it has finished; the drivers are idempotent, so a job that died half-way simply runs again.
/// Retries are the job's own (with progress lines people can read), so Hangfire's are off.
/// </summary>
[AutomaticRetry(Attempts = 0)]
public sealed class OperationJob(
    IDbContextFactory<PortalDbContext> dbFactory,
    DriverRegistry drivers,
    SecretProtector secrets,
    Backends.BackendEndpoints endpoints,
    IBackgroundJobClient jobs,
    Webhooks.WebhookPublisher webhooks,
    BackendReachability reachability,
    Egress.EgressGuard egress,
    IOptions<OperationOptions> options,
    Microsoft.Extensions.Configuration.IConfiguration configuration,
    TimeProvider clock,
    Telemetry.PortalMetrics metrics,
    ILogger<OperationJob> logger)
{
    public const int MaxAttempts = 3;

    /// <summary>Pause before attempt n+1: the base delay times n² (5 s, then 20 s by default).</summary>
    public TimeSpan RetryDelay(int attempt) => options.Value.RetryBaseDelay * (attempt * attempt);

    /// <summary>Pause before asking an unreachable backend again: as long as it has been away, within [base delay, max].</summary>
    public TimeSpan UnreachableDelay(TimeSpan waited) =>
        waited < options.Value.RetryBaseDelay ? options.Value.RetryBaseDelay
        : waited > options.Value.MaxUnreachableDelay ? options.Value.MaxUnreachableDelay : waited;

    public async Task RunAsync(Guid operationId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var operation = await db.Operations.FirstOrDefaultAsync(o => o.Id == operationId, ct);
        if (operation is null || operation.IsFinished)
        {
            return;
        }

        // One operation per instance at a time, across every worker process.
        await using var instanceLock = await InstanceLock.AcquireAsync(db, operation.InstanceId, ct);
        await db.Entry(operation).ReloadAsync(ct);
        if (operation.IsFinished)
        {
            return;
        }

        // Counted and recorded before anything else can fail, so that every failure below is an attempt with a reason.
        operation.State = OperationState.Running;
        operation.Attempts++;
        var firstStart = operation.StartedAt is null;
        operation.StartedAt ??= clock.GetUtcNow();
        operation.Error = null;
        await db.SaveChangesAsync(ct);
        var offering = await Telemetry.PortalMetrics.OfferingOfAsync(db, operation.InstanceId, ct);
        if (firstStart)
        {
            metrics.OperationStarted(operation.Kind, offering);
        }

        var progress = new OperationProgress(dbFactory, operation.Id, operation.InstanceId, clock);
        Backend? backend = null;
        try
        {
            var instance = await db.Instances.FirstAsync(i => i.Id == operation.InstanceId, ct);
            var plan = await db.Plans.AsNoTracking().FirstAsync(p => p.Id == instance.PlanId, ct);
            backend = await db.Backends.AsNoTracking().FirstAsync(b => b.Id == instance.BackendId, ct);
            var binding = operation.BindingId is { } bindingId ? await db.Bindings.FirstAsync(b => b.Id == bindingId, ct) : null;
            await progress.WriteAsync($"{operation.Kind} started (attempt {operation.Attempts} of {MaxAttempts}) on backend {backend.Name}", ct);

            var context = new InstanceContext(instance.Id, await endpoints.ForAsync(backend, ct), plan.Limits, progress) { Parameters = instance.Parameters };
            var driver = drivers.Get(backend.Kind);
            if (operation.Kind is OperationKind.Provision or OperationKind.Update or OperationKind.Repair)
            {
                // Judged again before the backend is told where to connect: allow entries go, and names move.
                await egress.EnsureAllowedAsync(RequestInstanceHandler.EgressUrls(driver, instance.Parameters),
                    new Portal.Domain.Egress.EgressScope(backend.Site, backend.Id), ct);
            }

            await RunDriverAsync(db, driver, operation, instance, binding, context, ct);
            var wasWaiting = operation.BackendUnreachableSince is not null;
            operation.BackendUnreachableSince = null;
            operation.State = OperationState.Succeeded;
            operation.FinishedAt = clock.GetUtcNow();
            if (operation.Kind == OperationKind.Provision)
            {
                db.Notification(operation.RequestedBy, operation.FinishedAt.Value, $"{instance.Name} is ready", "Create a binding to get credentials.",
                    $"/instances/{instance.Id}");
            }

            db.Audit(null, operation.FinishedAt.Value, SucceededAction(operation.Kind), binding is null ? "instance" : "binding",
                binding?.Id ?? instance.Id, instance.TeamId, $"{instance.Name}{(binding is null ? "" : $" / {binding.AppName}")}: {instance.State}");
            await db.SaveChangesAsync(ct);
            metrics.OperationFinished(operation, offering);
            if (wasWaiting)
            {
                await reachability.RecordReachableAsync(backend.Id, backend.Name, ct);
            }

            await progress.WriteAsync($"{operation.Kind} finished", ct);
            if (operation.Kind == OperationKind.Provision)
            {
                await webhooks.PublishAsync(Portal.Domain.Webhooks.WebhookEvents.InstanceReady, instance.TeamId,
                    new { instanceId = instance.Id, instance.Name, state = instance.State.ToString() }, ct);
            }
            else if (binding is not null && Bindings.BindingWebhooks.EventOf(operation.Kind) is { } bindingEvent)
            {
                await webhooks.PublishAsync(bindingEvent, instance.TeamId, Bindings.BindingWebhooks.Data(instance, binding), ct);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Driver errors name resources and servers, never secrets; keep them readable for the team.
            logger.LogWarning(e, "Operation {OperationId} ({Kind}) attempt {Attempt} failed", operation.Id, operation.Kind, operation.Attempts);
            db.ChangeTracker.Clear();
            await RecordFailureAsync(operationId, e, backend, progress, ct);
        }
    }

    private async Task RunDriverAsync(
        PortalDbContext db, IServiceDriver driver, Operation operation, Instance instance, Binding? binding, InstanceContext context,
        CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        switch (operation.Kind)
        {
            case OperationKind.Provision:
                await driver.ProvisionAsync(context, ct);
                instance.MoveTo(InstanceState.Ready, clock.GetUtcNow());
                break;
            case OperationKind.Update:
                await driver.UpdateAsync(context, ct);
                instance.MoveTo(InstanceState.Ready, clock.GetUtcNow());
                break;
            case OperationKind.Deprovision:
                await driver.DeprovisionAsync(context, ct);
                instance.MoveTo(InstanceState.Deleted, clock.GetUtcNow());
                foreach (var b in await db.Bindings.Where(b => b.InstanceId == instance.Id && b.State != BindingState.Deleted).ToListAsync(ct))
                {
                    if (b.State != BindingState.Deleting)
                    {
                        b.MoveTo(BindingState.Deleting, now);
                    }

                    b.MoveTo(BindingState.Deleted, now, "Deleted with its instance");
                    b.ProtectedCredentials = null;
                }

                break;
            case OperationKind.Bind:
            {
                var credentials = await BindGenerationAsync(driver, binding!, context, binding!.Generation, ct);
                binding.ProtectedCredentials = secrets.Protect(JsonSerializer.Serialize(credentials.Values));
                binding.MoveTo(BindingState.Ready, clock.GetUtcNow());
                break;
            }

            case OperationKind.Rotate:
            {
                var target = operation.TargetGeneration ?? binding!.Generation + 1;
                if (binding!.Generation >= target)
                {
                    // An earlier attempt made the generation and recorded it, then died: only what follows is left.
                    context.Progress.Report($"Generation {binding.Generation} was made by an earlier attempt");
                    await FinishRotationAsync(driver, binding, context, ct);
                    break;
                }

                // One earlier generation overlaps at a time: a rotation during an overlap ends the older one first.
                if (binding.RetiringGeneration is { } pending)
                {
                    await driver.RetireAsync(BindingContextOf(binding, context, pending), pending, ct);
                    binding.Retired(clock.GetUtcNow());
                    await db.SaveChangesAsync(ct);
                    context.Progress.Report($"Generation {pending} retired early by the next rotation");
                }

                var retiringToken = binding.ReadTokenHash;
                var credentials = await BindGenerationAsync(driver, binding, context, target, ct);
                binding.RetiringReadTokenHash = retiringToken;
                binding.ProtectedCredentials = secrets.Protect(JsonSerializer.Serialize(credentials.Values));
                binding.Rotated(clock.GetUtcNow(), operation.Overlap ?? TimeSpan.Zero);
                await db.SaveChangesAsync(ct);
                await FinishRotationAsync(driver, binding, context, ct);
                break;
            }

            case OperationKind.Repair:
                await RepairAsync(db, driver, instance, context, ct);
                instance.MoveTo(InstanceState.Ready, clock.GetUtcNow());
                instance.Reconciled([], clock.GetUtcNow());
                break;
            case OperationKind.Retire:
                if (binding!.RetiringGeneration is not null)
                {
                    await RetireAsync(driver, binding, context, ct);
                }

                break;
            case OperationKind.Unbind:
                // The read tokens stop first: nothing of the stream is readable with them while the driver works.
                binding!.ReadTokenHash = null;
                binding.RetiringReadTokenHash = null;
                await db.SaveChangesAsync(ct);
                await driver.UnbindAsync(BindingContextOf(binding, context, binding.Generation), ct);
                binding.ProtectedCredentials = null;
                binding.CertificateExpiresAt = null;
                binding.Retired(clock.GetUtcNow());
                binding.MoveTo(BindingState.Deleted, clock.GetUtcNow());
                break;
            default:
                throw new InvalidOperationException($"Unknown operation kind {operation.Kind}.");
        }
    }

    /// <summary>
    /// Makes one generation's credentials on the backend and completes them: the platform CA certificate (so the
    /// app verifies the server), a read token where the kind is read through the portal, and the certificate's expiry.
    /// </summary>
    private async Task<BindingCredentials> BindGenerationAsync(
        IServiceDriver driver, Binding binding, InstanceContext context, int generation, CancellationToken ct)
    {
        var credentials = await driver.BindAsync(BindingContextOf(binding, context, generation), ct);
        var values = new OrderedDictionary<string, string>();
        foreach (var (key, value) in credentials.Values)
        {
            values[key] = value;
        }

        if (context.Backend.PlatformCa is { } ca)
        {
            values.TryAdd(Bindings.CredentialKeys.CaCertificate, ca.CertificatePem);
        }

        binding.CertificateExpiresAt = values.TryGetValue(Bindings.CredentialKeys.Certificate, out var certificate)
            ? Provisioning.Certificates.IssuedCertificate.NotAfterOf(certificate)
            : null;
        if (Bindings.ReadTokens.Applies(driver))
        {
            var token = Bindings.ReadTokens.New();
            Bindings.ReadTokens.AddReadAccess(values, driver, binding.Id, token, configuration);
            binding.ReadTokenHash = Bindings.ReadTokens.Hash(token);
        }

        return new BindingCredentials(values);
    }

    /// <summary>
    /// Re-applies a drifted instance's desired state: the driver's provision (idempotent: it re-creates what is missing
    /// and re-applies the plan's limits, and keeps data), the missing credentials of Ready bindings with the secrets they
    /// had (<see cref="BindingContext.Existing"/>) — all current ones when their grants went with the resources — and the
    /// removal of credentials the record does not know. Then it observes again: what still differs fails the attempt.
    /// </summary>
    private async Task RepairAsync(PortalDbContext db, IServiceDriver driver, Instance instance, InstanceContext context, CancellationToken ct)
    {
        await driver.ProvisionAsync(context, ct);
        context.Progress.Report("The instance's resources and limits are in place");
        var bindings = await db.Bindings.Where(b => b.InstanceId == instance.Id).ToListAsync(ct);
        var observed = await driver.ObserveAsync(context, ct);
        if (observed.Bindings is { } present)
        {
            // With the instance's resources in place again, what still differs are the grants credentials hold on them,
            // which went with the resources while the credentials stayed: RabbitMQ keeps a user whose vhost was deleted
            // but not its permissions, etcd a user whose role was deleted but not its membership. Binding the current
            // generations again, with their secrets, grants them anew.
            var regrant = observed.Differences.Count > 0;
            foreach (var binding in bindings.Where(b => b.State == BindingState.Ready))
            {
                var found = present.GetValueOrDefault(binding.Id) ?? new HashSet<int>();
                if (!found.Contains(binding.Generation) || regrant)
                {
                    await RecreateCredentialsAsync(driver, binding, context, found.Contains(binding.Generation), ct);
                }

                if (binding.RetiringGeneration is { } retiring && (!found.Contains(retiring) || regrant))
                {
                    // Its secret is not kept, so it cannot come back or be granted again: the overlap ends now (a
                    // generation still on the backend is removed below, as one that should not exist).
                    binding.Retired(clock.GetUtcNow());
                    context.Progress.Report(found.Contains(retiring)
                        ? $"Binding {binding.AppName}: generation {retiring} cannot be granted again without its secret; its overlap ends now"
                        : $"Binding {binding.AppName}: generation {retiring} was gone; its overlap ends now");
                }
            }

            foreach (var (bindingId, generations) in present)
            {
                var binding = bindings.FirstOrDefault(b => b.Id == bindingId);
                if (binding is not { State: BindingState.Ready })
                {
                    await driver.UnbindAsync(new BindingContext(context, bindingId), ct);
                    context.Progress.Report($"Removed credentials of {(binding is null ? $"binding {bindingId}, unknown to Portal" : $"binding {binding.AppName} ({binding.State})")}");
                    continue;
                }

                foreach (var generation in generations.Except(Reconcile.DriftCheck.ExpectedGenerations(binding)))
                {
                    await driver.RetireAsync(BindingContextOf(binding, context, generation), generation, ct);
                    context.Progress.Report($"Binding {binding.AppName}: removed generation {generation}, which should not exist");
                }
            }
        }

        await db.SaveChangesAsync(ct);
        var findings = Reconcile.DriftCheck.Compare(InstanceState.Ready, bindings, await driver.ObserveAsync(context, ct));
        if (!findings.IsClean)
        {
            throw new InvalidOperationException($"The backend still differs after the repair: {string.Join("; ", findings.All)}");
        }
    }

    /// <summary>
    /// Re-creates a binding's current credentials that went missing, or grants those still <paramref name="present"/>
    /// anew, with the secret they had where the driver can.
    /// </summary>
    private async Task RecreateCredentialsAsync(IServiceDriver driver, Binding binding, InstanceContext context, bool present, CancellationToken ct)
    {
        var existing = binding.ProtectedCredentials is { } stored
            ? JsonSerializer.Deserialize<Dictionary<string, string>>(secrets.Unprotect(stored))
            : null;
        var credentials = await driver.BindAsync(BindingContextOf(binding, context, binding.Generation) with { Existing = existing }, ct);
        // What the portal added (ca.crt, read tokens) stays; the driver's values replace theirs.
        var values = new OrderedDictionary<string, string>();
        foreach (var (key, value) in (existing ?? []).Concat(credentials.Values))
        {
            values[key] = value;
        }

        var sameSecret = existing is not null && credentials.Values.All(v => !existing.TryGetValue(v.Key, out var old) || old == v.Value
                                                                            || v.Key is Bindings.CredentialKeys.Certificate or Bindings.CredentialKeys.PrivateKey);
        binding.ProtectedCredentials = secrets.Protect(JsonSerializer.Serialize(values));
        binding.CertificateExpiresAt = values.TryGetValue(Bindings.CredentialKeys.Certificate, out var certificate)
            ? Provisioning.Certificates.IssuedCertificate.NotAfterOf(certificate)
            : binding.CertificateExpiresAt;
        var done = present ? "applied again" : "re-created";
        context.Progress.Report(sameSecret
            ? $"Binding {binding.AppName}: generation {binding.Generation} {done} with the secret it had"
            : $"Binding {binding.AppName}: generation {binding.Generation} {done} with a new secret; the app must read its credentials again");
    }

    /// <summary>
    /// After the new generation is recorded: the previous one keeps working until <see cref="Binding.RetireAt"/> (its
    /// retirement is its own operation then; a recurring sweep catches a lost one), or stops now when there is no overlap.
    /// </summary>
    private async Task FinishRotationAsync(IServiceDriver driver, Binding binding, InstanceContext context, CancellationToken ct)
    {
        if (binding.RetiringGeneration is null)
        {
            return;
        }

        var remaining = binding.RetireAt is { } retireAt ? retireAt - clock.GetUtcNow() : TimeSpan.Zero;
        if (remaining > TimeSpan.Zero)
        {
            context.Progress.Report(
                $"Generation {binding.RetiringGeneration} keeps working until {binding.RetireAt:u}; generation {binding.Generation} is current");
            jobs.Schedule<Bindings.RetireDueJob>(job => job.RunAsync(binding.Id, CancellationToken.None), remaining);
        }
        else
        {
            await RetireAsync(driver, binding, context, ct);
        }
    }

    private async Task RetireAsync(IServiceDriver driver, Binding binding, InstanceContext context, CancellationToken ct)
    {
        var generation = binding.RetiringGeneration!.Value;
        binding.RetiringReadTokenHash = null;
        await driver.RetireAsync(BindingContextOf(binding, context, generation), generation, ct);
        binding.Retired(clock.GetUtcNow());
        context.Progress.Report($"Generation {generation} no longer works; generation {binding.Generation} is current");
    }

    private static BindingContext BindingContextOf(Binding binding, InstanceContext context, int generation) =>
        new(context, binding.Id)
        {
            Generation = generation,
            ClientCertificate = binding.ClientCertificate,
            CertificateValidity = Bindings.CredentialKeys.CertificateValidity(context.Limits),
        };

    private static string SucceededAction(OperationKind kind) => kind switch
    {
        OperationKind.Provision => "instance.provisioned",
        OperationKind.Update => "instance.updated",
        OperationKind.Deprovision => "instance.deprovisioned",
        OperationKind.Bind => "binding.created",
        OperationKind.Rotate => "binding.rotated",
        OperationKind.Retire => "binding.generation-retired",
        OperationKind.Repair => "instance.repaired",
        _ => "binding.revoked",
    };

    private async Task RecordFailureAsync(Guid operationId, Exception exception, Backend? backend, OperationProgress progress, CancellationToken ct)
    {
        var error = exception is Egress.EgressDeniedException ? OperationErrors.EgressDeniedPrefix + exception.Message : exception.Message;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var operation = await db.Operations.FirstAsync(o => o.Id == operationId, ct);
        operation.Error = error.Length > 4000 ? error[..4000] : error;
        var queue = await OperationQueue.QueueOfAsync(db, operationId, ct);
        var unreachable = backend is not null && BackendErrors.IsUnreachable(exception);
        // The driver's words stay on the operation for platform admins; progress lines, state messages, notifications
        // and webhooks are read by the team.
        // An egress refusal is about the team's own URL, not the backend: it is theirs to read whole.
        var teamMessage = exception is Egress.EgressDeniedException ? error : OperationErrors.ForTeam(operation, unreachable);
        if (backend is not null && unreachable)
        {
            // The server did not answer: wait for it without using up attempts, up to BackendDownTimeout.
            var since = operation.BackendUnreachableSince ??= clock.GetUtcNow();
            var waited = clock.GetUtcNow() - since;
            if (waited < options.Value.BackendDownTimeout)
            {
                operation.Attempts--;
                var wait = UnreachableDelay(waited);
                operation.State = OperationState.Queued;
                operation.JobId = jobs.Schedule<OperationJob>(queue, job => job.RunAsync(operationId, CancellationToken.None), wait);
                var waiting = await db.Instances.FirstAsync(i => i.Id == operation.InstanceId, ct);
                if (waiting.State is InstanceState.Provisioning or InstanceState.Updating or InstanceState.Deprovisioning)
                {
                    // Shown beside the state until the operation moves the instance on (binding operations say it in their progress).
                    waiting.Note(clock.GetUtcNow(), $"Waiting: backend {backend.Name} unreachable, retrying");
                }

                await db.SaveChangesAsync(ct);
                await reachability.RecordUnreachableAsync(backend.Id, backend.Name, error, ct);
                await progress.WriteAsync(
                    $"Backend {backend.Name} unreachable ({teamMessage}) — retrying in {wait.TotalSeconds:0.#} s; the operation waits for it " +
                    $"up to {options.Value.BackendDownTimeout.TotalMinutes:0.#} min", ct);
                return;
            }

            error = $"backend {backend.Name} unreachable for {waited.TotalMinutes:0.#} min: {error}";
            teamMessage = $"The backend did not answer for {waited.TotalMinutes:0.#} min; platform admins can see the details (operation {operation.Id}).";
            operation.Error = error.Length > 4000 ? error[..4000] : error;
            operation.Attempts = MaxAttempts;
        }

        if (exception is Egress.EgressDeniedException)
        {
            operation.Attempts = MaxAttempts; // The policy will say the same on a retry.
        }

        if (operation.Attempts < MaxAttempts)
        {
            var delay = RetryDelay(operation.Attempts);
            operation.State = OperationState.Queued;
            operation.JobId = jobs.Schedule<OperationJob>(queue, job => job.RunAsync(operationId, CancellationToken.None), delay);
            await db.SaveChangesAsync(ct);
            await progress.WriteAsync($"Attempt {operation.Attempts} failed: {teamMessage} — retrying in {delay.TotalSeconds:0.#} s", ct);
            return;
        }

        var instance = await OperationFailure.RecordAsync(db, operation, error, teamMessage, null, clock.GetUtcNow(), ct);
        await db.SaveChangesAsync(ct);
        metrics.OperationFinished(operation, await Telemetry.PortalMetrics.OfferingOfAsync(db, operation.InstanceId, ct));
        await progress.WriteAsync($"Gave up after {operation.Attempts} attempts: {teamMessage}", ct);
        await OperationFailure.PublishAsync(webhooks, operation, instance, teamMessage, ct);
    }
}

/// <summary>Settings of <see cref="OperationJob"/>, from the <c>Jobs</c> section.</summary>
public sealed class OperationOptions
{
    /// <summary>The first retry waits this long; later ones wait longer (attempt² × this).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an operation waits for a backend that does not answer before it fails.</summary>
    public TimeSpan BackendDownTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>The longest pause between two tries of a backend that does not answer.</summary>
    public TimeSpan MaxUnreachableDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often <see cref="OperationSweeper"/> looks for operations without a live job.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a committed operation may wait for its request to enqueue it before the sweeper does.</summary>
    public TimeSpan EnqueueGrace { get; set; } = TimeSpan.FromSeconds(10);
}
