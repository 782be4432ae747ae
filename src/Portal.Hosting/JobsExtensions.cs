using Hangfire;
using Hangfire.AspNetCore;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Portal.Application.Jobs;
using Portal.Application.Operations;
using Portal.Data;

namespace Portal.Hosting;

public static class JobsExtensions
{
    public const string Schema = "hangfire";

    /// <summary>The job storage (Hangfire on the portal's PostgreSQL, own schema) and the job client.</summary>
    public static IHostApplicationBuilder AddPortalJobs(this IHostApplicationBuilder builder)
    {
        // The storage and the job activator are this host's own services, not Hangfire's process-wide
        // JobStorage.Current and JobActivator.Current: AddHangfire only adds them if none are registered,
        // and a second host in the process (tests) would otherwise run the first one's jobs against its
        // own container and database.
        builder.Services.AddSingleton<JobActivator>(sp => new AspNetCoreJobActivator(sp.GetRequiredService<IServiceScopeFactory>()));
        builder.Services.AddSingleton<JobStorage>(sp =>
        {
            var options = StorageOptions(prepareSchema: false);
            var connectionString = DataExtensions.GetConnectionString(sp.GetRequiredService<IConfiguration>());
            return new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
        });
        builder.Services.AddHangfire(config => config
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings());
        return builder;
    }

    /// <summary>
    /// Storage options. The migrator creates the schema; hosts only use it. Workers poll their queues every
    /// second. LISTEN/NOTIFY long polling is off: when its listening connection is broken, Hangfire.PostgreSql
    /// leaves new jobs Enqueued until the invisibility timeout (hangfire-postgres/Hangfire.PostgreSql#410, open),
    /// which showed here as operations that did not start for minutes.
    /// A job whose worker died is handed out again after <see cref="InvisibilityTimeout"/>: the timeout slides (a
    /// running job's worker renews it every fifth of it), so a short one never hands out a long job that is still
    /// running. Without sliding, the default 30 minutes held a killed worker's operations for half an hour.
    /// </summary>
    public static PostgreSqlStorageOptions StorageOptions(bool prepareSchema) => new()
    {
        SchemaName = Schema,
        PrepareSchemaIfNecessary = prepareSchema,
        EnableLongPolling = false,
        QueuePollInterval = TimeSpan.FromSeconds(1),
        UseSlidingInvisibilityTimeout = true,
        InvisibilityTimeout = InvisibilityTimeout,
        // Hangfire's distributed locks are rows that a killed process leaves behind until this timeout; the default
        // 10 minutes kept a restarted worker from registering its recurring jobs. Every lock here is held for seconds.
        DistributedLockTimeout = TimeSpan.FromMinutes(1),
    };

    /// <summary>How long a dead worker's job waits before another worker takes it.</summary>
    public static readonly TimeSpan InvisibilityTimeout = TimeSpan.FromSeconds(30);

    /// <summary>A Hangfire server in this process, working the portal's queues.</summary>
    public static IHostApplicationBuilder AddPortalWorkers(this IHostApplicationBuilder builder)
    {
        builder.Services.TryAddSingleton<Telemetry.JobTelemetryFilter>();
        builder.Services.AddHangfireServer((sp, options) =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            options.WorkerCount = configuration.GetValue("Jobs:WorkerCount", Math.Max(4, Environment.ProcessorCount * 2));
            options.Queues = configuration.GetSection("Jobs:Queues").Get<string[]>() is { Length: > 0 } queues ? queues : ["default"];
            // Retries are scheduled jobs: look for due ones often so a retry starts close to its time.
            options.SchedulePollingInterval = TimeSpan.FromSeconds(2);
            options.ServerName = $"{Environment.MachineName}:{Environment.ProcessId}";
            // A dead server leaves the dashboard's list within a minute (its jobs come back by the invisibility timeout).
            options.HeartbeatInterval = TimeSpan.FromSeconds(10);
            options.ServerCheckInterval = TimeSpan.FromSeconds(30);
            options.ServerTimeout = TimeSpan.FromMinutes(1);
            options.FilterProvider = Telemetry.JobTelemetryFilter.ProviderFor(sp.GetRequiredService<Telemetry.JobTelemetryFilter>());
        });
        builder.Services.AddHostedService<OperationSweeper>();
        builder.AddPortalRecurringJobs();
        return builder;
    }
}
