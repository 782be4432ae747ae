namespace Portal.Domain.Backends;

/// <summary>A server (or cluster) on company hardware that instances are provisioned on.</summary>
public sealed class Backend
{
    public const string DefaultSite = "dc1";

    public Guid Id { get; init; } = Guid.CreateVersion7();

    public required string Name { get; set; }

    /// <summary>The driver kind, e.g. <c>postgresql</c>.</summary>
    public required string Kind { get; init; }

    public required string Host { get; set; }

    /// <summary>The site (data centre, room) the server stands in, e.g. <c>dc1</c>; requests may ask for one.</summary>
    public string Site { get; set; } = DefaultSite;

    /// <summary>The most instances placement puts here; null: no limit.</summary>
    public int? Capacity { get; set; }

    /// <summary>
    /// The Hangfire queue this backend's operations run on, e.g. <c>dc2-logging</c>: a worker started with
    /// that queue beside the server (for drivers that write its configuration files). Null: the default queue.
    /// </summary>
    public string? WorkerQueue { get; set; }

    /// <summary>Further non-secret settings of the kind, e.g. RabbitMQ's <c>managementUrl</c>.</summary>
    public Dictionary<string, string> Settings { get; set; } = [];

    public int Port { get; set; }

    public required string AdminUser { get; set; }

    /// <summary>The admin password, encrypted with Data Protection; never stored or logged in clear.</summary>
    public required string ProtectedAdminPassword { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>
    /// When a platform admin retired the server: placement puts no new instance here, the instances on it live on
    /// until they are deleted. Null: in service.
    /// </summary>
    public DateTimeOffset? RetiredAt { get; set; }

    /// <summary>Result of the last "test connection".</summary>
    public bool? LastCheckHealthy { get; set; }

    public string? LastCheckMessage { get; set; }

    public DateTimeOffset? LastCheckedAt { get; set; }
}
