using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Backends;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Egress;

namespace Portal.Application.Egress;

/// <param name="Target">A CIDR (<c>10.20.0.0/16</c>), an IP address (one address: <c>/32</c> or <c>/128</c>) or a host name.</param>
/// <param name="Site">Only for the backends at this site (e.g. Prometheus at dc2 scraping 10.20.0.0/16).</param>
/// <param name="BackendId">Only for this backend. Neither site nor backend: everywhere, the portal's own webhooks included.</param>
/// <param name="Note">Why, for the next admin.</param>
public sealed record AddEgressAllowEntry(string Target, string? Site = null, Guid? BackendId = null, string? Note = null);

/// <summary>Allows user-given URLs to reach a network or host the egress policy denies. Platform admins only; audited.</summary>
public sealed class AddEgressAllowEntryHandler(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task<EgressAllowEntryView> HandleAsync(Actor actor, AddEgressAllowEntry request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        var error = EgressAllowEntry.NormalizeTarget(request.Target, out var target);
        var site = string.IsNullOrWhiteSpace(request.Site) ? null : request.Site.Trim();
        var note = string.IsNullOrWhiteSpace(request.Note) ? null : request.Note.Trim();
        new Validator()
            .Require(error is null, "target", error ?? "")
            .Require(site is null || Placement.IsSiteName(site), "site", $"The site must be {Placement.SiteRule}.")
            .Require(site is null || request.BackendId is null, "site", "Scope the entry to a site or to a backend, not both.")
            .Require(note is null || note.Length <= 500, "note", "Keep the note under 500 characters.")
            .ThrowIfInvalid();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        string? backendName = null;
        if (request.BackendId is { } backendId)
        {
            backendName = await db.Backends.Where(b => b.Id == backendId).Select(b => b.Name).FirstOrDefaultAsync(ct)
                          ?? throw ValidationException.For("backendId", "There is no such backend.");
        }

        var entry = new EgressAllowEntry
        {
            Target = target, Site = site, BackendId = request.BackendId, Note = note, CreatedAt = clock.GetUtcNow(), CreatedBy = actor.Name,
        };
        var view = new EgressAllowEntryView(entry.Id, entry.Target, entry.Site, entry.BackendId, backendName, entry.Note, entry.CreatedAt, entry.CreatedBy);
        db.EgressAllowList.Add(entry);
        db.Audit(actor, entry.CreatedAt, "egress.allowed", "egress-allow-entry", entry.Id, null,
            $"{entry.Target} for {view.Scope}{(note is null ? "" : $": {note}")}");
        await db.SaveOrConflictAsync($"{entry.Target} is allowed for {view.Scope} already.", ct);
        return view;
    }
}
