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

/// <summary>
/// Renders a binding's credentials in one of <see cref="CredentialFormats.All"/> for download. Needs the right
/// to read secrets; every download is on the audit trail before the secret leaves.
/// </summary>
public sealed class ExportCredentialsHandler(IDbContextFactory<PortalDbContext> dbFactory, SecretProtector secrets, TimeProvider clock)
{
    public async Task<RenderedCredentials> HandleAsync(Actor actor, Guid bindingId, string? format, CancellationToken ct = default)
    {
        format = string.IsNullOrWhiteSpace(format) ? "json" : format.Trim().ToLowerInvariant();
        if (!CredentialFormats.All.Contains(format))
        {
            throw ValidationException.For("format", $"The format must be one of {string.Join(", ", CredentialFormats.All)}.");
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var instanceId = await db.Bindings.Where(b => b.Id == bindingId).Select(b => (Guid?)b.InstanceId).FirstOrDefaultAsync(ct)
            ?? throw new NotFoundException("Binding");
        var (binding, instance) = await db.RequireBindingAsync(actor, instanceId, bindingId, TeamPermission.ReadSecrets, ct);
        if (binding.State != BindingState.Ready || binding.ProtectedCredentials is null)
        {
            throw new ConflictException($"The binding's credentials are not ready; it is {binding.State}.");
        }

        var names = await (from o in db.Offerings
                           join p in db.Plans on o.Id equals p.OfferingId
                           where o.Id == instance.OfferingId && p.Id == instance.PlanId
                           select new { o.Key, o.Kind, Plan = p.Key }).FirstAsync(ct);
        db.Audit(actor, clock.GetUtcNow(), "binding.credentials-downloaded", "binding", binding.Id, instance.TeamId,
            $"{binding.AppName} on {instance.Name} as {format}");
        await db.SaveChangesAsync(ct);

        var values = JsonSerializer.Deserialize<Dictionary<string, string>>(secrets.Unprotect(binding.ProtectedCredentials))!;
        return CredentialFormats.Render(
            new BindingDocument(binding.Id, binding.AppName, instance.Name, names.Key, names.Kind, names.Plan, values), format);
    }
}
