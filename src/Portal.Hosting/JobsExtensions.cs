using Hangfire;
using Hangfire.AspNetCore;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Portal.Application.Jobs;
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
    /// </summary>
    public static PostgreSqlStorageOptions StorageOptions(bool prepareSchema) => new()
    {
        SchemaName = Schema,
        PrepareSchemaIfNecessary = prepareSchema,
        EnableLongPolling = false,
        QueuePollInterval = TimeSpan.FromSeconds(1),
    };

    /// <summary>A Hangfire server in this process, working the portal's queues.</summary>
    public static IHostApplicationBuilder AddPortalWorkers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHangfireServer((sp, options) =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            options.WorkerCount = configuration.GetValue("Jobs:WorkerCount", Math.Max(4, Environment.ProcessorCount * 2));
            options.Queues = configuration.GetSection("Jobs:Queues").Get<string[]>() is { Length: > 0 } queues ? queues : ["default"];
            // Retries are scheduled jobs: look for due ones often so a retry starts close to its time.
            options.SchedulePollingInterval = TimeSpan.FromSeconds(2);
            options.ServerName = $"{Environment.MachineName}:{Environment.ProcessId}";
        });
        builder.AddPortalRecurringJobs();
        return builder;
    }
}
