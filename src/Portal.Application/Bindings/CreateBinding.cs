using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Application.Operations;
using Portal.Data;
using Portal.Domain.Access;
using Portal.Domain.Bindings;
using Portal.Domain.Instances;
using Portal.Domain.Operations;

namespace Portal.Application.Bindings;

/// <param name="ClientCertificate">Also issue a client certificate from the platform CA, where the kind takes them.</param>
public sealed record CreateBinding(string AppName, bool ClientCertificate = false);

/// <summary>Creates credentials for one app: a bind operation makes them on the backend. Developers and owners.</summary>
public sealed class CreateBindingHandler(
    IDbContextFactory<PortalDbContext> dbFactory, OperationQueue queue, Provisioning.DriverRegistry drivers, TimeProvider clock)
{
    public async Task<AcceptedChange<BindingView>> HandleAsync(Actor actor, Guid instanceId, CreateBinding request, CancellationToken ct = default)
    {
        new Validator()
            .Input(request)
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

        await queue.EnqueueAsync(operation.Id);
        return new(binding.ToView(), operation.Id);
    }

    private static string CertificateKinds(Provisioning.DriverRegistry drivers) =>
        string.Join(", ", drivers.All.Where(d => d.SupportsClientCertificates).Select(d => d.Kind).Order());
}
