namespace Portal.Application.Egress;

/// <param name="Target">A CIDR (<c>10.20.0.0/16</c>, <c>127.0.0.1/32</c>) or a host name.</param>
/// <param name="Site">Only for backends at this site; null with <paramref name="BackendId"/> null: everywhere (webhooks too).</param>
/// <param name="BackendId">Only for this backend.</param>
/// <param name="BackendName">The backend's name when the entry is for one.</param>
public sealed record EgressAllowEntryView(
    Guid Id, string Target, string? Site, Guid? BackendId, string? BackendName, string? Note, DateTimeOffset CreatedAt, string CreatedBy)
{
    /// <summary>Where the entry holds, as people say it.</summary>
    public string Scope => BackendId is not null ? $"backend {BackendName ?? BackendId.ToString()}" : Site is not null ? $"site {Site}" : "everywhere";
}
