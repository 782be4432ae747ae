using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Access;
using Portal.Domain.Bindings;
using Portal.Domain.Instances;
using Portal.Domain.Operations;

namespace Portal.Application.Bindings;

/// <param name="ClientCertificate">Also issue a client certificate from the platform CA, where the kind takes them.</param>
public sealed record CreateBinding(string AppName, bool ClientCertificate = false);

public sealed record BindingCredentialsView(Guid BindingId, string AppName, IReadOnlyDictionary<string, string> Credentials);

internal static class BindingMapping
{
    /// <param name="planLimits">The instance's plan limits, for the next scheduled rotation; omitted, none is shown.</param>
    public static BindingView ToView(this Binding b, IReadOnlyDictionary<string, int>? planLimits = null) => new(
        b.Id, b.InstanceId, b.AppName, b.State.ToString(), b.StatusMessage, b.CreatedAt,
        b.ClientCertificate, b.Generation, b.RetiringGeneration, b.RetireAt, b.CertificateExpiresAt, b.RotatedAt,
        b.State == BindingState.Ready ? ScheduledRotation.NextAt(b, planLimits) : null);

    public static Task<Dictionary<string, int>> PlanLimitsAsync(this PortalDbContext db, Instance instance, CancellationToken ct) =>
        db.Plans.AsNoTracking().Where(p => p.Id == instance.PlanId).Select(p => p.Limits).FirstAsync(ct);

    public static async Task<(Binding Binding, Instance Instance)> RequireBindingAsync(
        this PortalDbContext db, Actor actor, Guid instanceId, Guid bindingId, TeamPermission permission, CancellationToken ct)
    {
        var (instance, _) = await db.RequireInstanceAsync(actor, instanceId, permission, ct);
        var binding = await db.Bindings.FirstOrDefaultAsync(b => b.Id == bindingId && b.InstanceId == instanceId && b.State != BindingState.Deleted, ct)
            ?? throw new NotFoundException("Binding");
        return (binding, instance);
    }
}

/// <summary>Creates credentials for one app: a bind operation makes them on the backend. Developers and owners.</summary>
public sealed class CreateBindingHandler(
    IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, Provisioning.DriverRegistry drivers, TimeProvider clock)
{
    public async Task<AcceptedChange<BindingView>> HandleAsync(Actor actor, Guid instanceId, CreateBinding request, CancellationToken ct = default)
    {
        new Validator()
            .Require(ResourceName.IsValid(request.AppName), "appName", $"The app name must be {ResourceName.Rule}.")
            .ThrowIfInvalid();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (instance, _) = await db.RequireInstanceAsync(actor, instanceId, TeamPermission.Deploy, ct);
        if (!instance.State.AcceptsBindings())
        {
            throw new ConflictException($"Bindings can be made once the instance is Ready; it is {instance.State}.");
        }

        if (request.ClientCertificate)
        {
            var kind = await db.Offerings.Where(o => o.Id == instance.OfferingId).Select(o => o.Kind).FirstAsync(ct);
            if (drivers.Find(kind) is not { SupportsClientCertificates: true })
            {
                throw ValidationException.For("clientCertificate",
                    $"{kind} instances take no client certificates; {CertificateKinds(drivers)} do. Bind without one.");
            }

            // Certificate sign-in happens in the TLS handshake: the backend must serve TLS.
            var settings = await db.Backends.Where(b => b.Id == instance.BackendId).Select(b => b.Settings).FirstAsync(ct);
            if (!Provisioning.BackendEndpoint.ServesTls(settings))
            {
                throw ValidationException.For("clientCertificate",
                    $"{instance.Name} runs on a backend without TLS, so it cannot take client certificates. Bind without one, " +
                    "or ask the platform team to serve TLS there (backend setting tls=true).");
            }
        }

        await db.RequireNoOperationRunningAsync(instanceId, ct);
        if (await db.Bindings.AnyAsync(b => b.InstanceId == instanceId && b.AppName == request.AppName && b.State != BindingState.Deleted, ct))
        {
            throw new ConflictException($"The instance has a binding for '{request.AppName}' already.");
        }

        var now = clock.GetUtcNow();
        var binding = new Binding
        {
            InstanceId = instanceId, AppName = request.AppName, ClientCertificate = request.ClientCertificate, CreatedBy = actor.UserId, CreatedAt = now,
        };
        var operation = new Operation
        {
            InstanceId = instanceId, BindingId = binding.Id, Kind = OperationKind.Bind, RequestedBy = actor.UserId, CreatedAt = now,
        };
        db.Bindings.Add(binding);
        db.Operations.Add(operation);
        db.Audit(actor, now, "binding.requested", "binding", binding.Id, instance.TeamId, $"{request.AppName} on {instance.Name}");
        await db.SaveOrConflictAsync($"The instance has a binding for '{request.AppName}' already.", ct);

        await queue.EnqueueAsync(operation.Id, ct);
        return new(binding.ToView(), operation.Id);
    }

    private static string CertificateKinds(Provisioning.DriverRegistry drivers) =>
        string.Join(", ", drivers.All.Where(d => d.SupportsClientCertificates).Select(d => d.Kind).Order());
}

/// <summary>Revokes a binding: an unbind operation drops its credentials from the backend. Developers and owners.</summary>
public sealed class DeleteBindingHandler(IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, TimeProvider clock)
{
    public async Task<AcceptedChange<BindingView>> HandleAsync(Actor actor, Guid instanceId, Guid bindingId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (binding, instance) = await db.RequireBindingAsync(actor, instanceId, bindingId, TeamPermission.Deploy, ct);
        if (!Binding.CanMove(binding.State, BindingState.Deleting))
        {
            throw new ConflictException($"A binding that is {binding.State} cannot be deleted now.");
        }

        await db.RequireNoOperationRunningAsync(instanceId, ct);
        var now = clock.GetUtcNow();
        binding.MoveTo(BindingState.Deleting, now, "Waiting for a worker");
        var operation = new Operation
        {
            InstanceId = instanceId, BindingId = binding.Id, Kind = OperationKind.Unbind, RequestedBy = actor.UserId, CreatedAt = now,
        };
        db.Operations.Add(operation);
        db.Audit(actor, now, "binding.revoke-requested", "binding", binding.Id, instance.TeamId, $"{binding.AppName} on {instance.Name}");
        await db.SaveOrConflictAsync("The change collides with another one; reload and try again.", ct);
        await queue.EnqueueAsync(operation.Id, ct);
        return new(binding.ToView(), operation.Id);
    }
}

/// <summary>One binding (without secrets): state, generation, rotation overlap and certificate expiry.</summary>
public sealed class GetBindingHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<BindingView> HandleAsync(Actor actor, Guid instanceId, Guid bindingId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (binding, instance) = await db.RequireBindingAsync(actor, instanceId, bindingId, TeamPermission.View, ct);
        return binding.ToView(await db.PlanLimitsAsync(instance, ct));
    }
}

public sealed class ListBindingsHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<IReadOnlyList<BindingView>> HandleAsync(Actor actor, Guid instanceId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (instance, _) = await db.RequireInstanceAsync(actor, instanceId, TeamPermission.View, ct);
        var bindings = await db.Bindings.AsNoTracking()
            .Where(b => b.InstanceId == instanceId && b.State != BindingState.Deleted)
            .OrderBy(b => b.CreatedAt).ToListAsync(ct);
        var limits = await db.PlanLimitsAsync(instance, ct);
        return bindings.Select(b => b.ToView(limits)).ToList();
    }
}

/// <summary>Decrypts a binding's credentials for a team member who may read secrets. Never logged.</summary>
public sealed class RevealCredentialsHandler(IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, TimeProvider clock)
{
    public async Task<BindingCredentialsView> HandleAsync(Actor actor, Guid instanceId, Guid bindingId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (binding, instance) = await db.RequireBindingAsync(actor, instanceId, bindingId, TeamPermission.ReadSecrets, ct);
        if (binding.State != BindingState.Ready || binding.ProtectedCredentials is null)
        {
            throw new ConflictException($"The binding's credentials are not ready; it is {binding.State}.");
        }

        // Every reveal is on record, before the secret leaves.
        db.Audit(actor, clock.GetUtcNow(), "binding.credentials-revealed", "binding", binding.Id, instance.TeamId,
            $"{binding.AppName} on {instance.Name}");
        await db.SaveChangesAsync(ct);

        var values = JsonSerializer.Deserialize<Dictionary<string, string>>(secrets.Unprotect(binding.ProtectedCredentials))!;
        return new BindingCredentialsView(binding.Id, binding.AppName, values);
    }
}
