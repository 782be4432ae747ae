using Portal.Domain.Backends;

namespace Portal.Application.Backends;

/// <summary>A backend as admins see it: never with its password.</summary>
/// <param name="Instances">Live instances placed on it (what counts against <paramref name="Capacity"/>).</param>
public sealed record BackendView(
    Guid Id, string Name, string Kind, string Host, int Port, string AdminUser,
    bool? LastCheckHealthy, string? LastCheckMessage, DateTimeOffset? LastCheckedAt,
    string Site = Backend.DefaultSite, int? Capacity = null, IReadOnlyDictionary<string, string>? Settings = null, int Instances = 0,
    string? WorkerQueue = null, DateTimeOffset? RetiredAt = null);
