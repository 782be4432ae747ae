using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Data.Security;
using Portal.Domain.Access;
using Portal.Domain.Bindings;

namespace Portal.Application.Bindings;

public sealed record BindingCredentialsView(Guid BindingId, string AppName, IReadOnlyDictionary<string, string> Credentials);

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
