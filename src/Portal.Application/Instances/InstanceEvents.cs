using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Portal.Data;

namespace Portal.Application.Instances;

/// <summary>
/// Live status across processes: jobs (in any worker) announce "instance X changed" with PostgreSQL
/// NOTIFY; every web host LISTENs and raises <see cref="Changed"/> for the pages that watch X.
/// </summary>
public sealed class InstanceEvents
{
    public const string Channel = "portal_instance_changed";

    /// <summary>Raised (on a background thread) with the id of an instance that changed.</summary>
    public event Action<Guid>? Changed;

    public static Task PublishAsync(PortalDbContext db, Guid instanceId, CancellationToken ct) =>
        db.Database.ExecuteSqlAsync($"SELECT pg_notify({Channel}, {instanceId.ToString()})", ct);

    /// <summary>Tells this host's watchers that the instance changed (the listener calls it for each notification).</summary>
    public void Raise(Guid instanceId) => Changed?.Invoke(instanceId);
}

/// <summary>Keeps one connection LISTENing and forwards notifications to <see cref="InstanceEvents"/>.</summary>
public sealed class InstanceEventsListener(InstanceEvents events, IConfiguration configuration, ILogger<InstanceEventsListener> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(DataExtensions.GetConnectionString(configuration))
                {
                    KeepAlive = 30,
                    Pooling = false,
                };
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                await connection.OpenAsync(stoppingToken);
                connection.Notification += (_, e) =>
                {
                    if (Guid.TryParse(e.Payload, out var id))
                    {
                        events.Raise(id);
                    }
                };
                await using (var listen = new NpgsqlCommand($"LISTEN {InstanceEvents.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Listening for instance changes failed; retrying in 5 s");
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken).ContinueWith(_ => { }, CancellationToken.None);
            }
        }
    }
}
