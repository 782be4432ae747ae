using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Portal.Application.Instances;
using Portal.Application.Operations;
using Portal.Provisioning;
using Portal.Provisioning.Etcd;
using Portal.Provisioning.Logging;
using Portal.Provisioning.Monitoring;
using Portal.Provisioning.Oidc;
using Portal.Provisioning.Postgres;
using Portal.Provisioning.RabbitMq;
using Portal.Provisioning.Redis;
using Portal.Provisioning.S3;

namespace Portal.Application;

public static class ApplicationExtensions
{
    /// <summary>The use-case handlers, the operation queue and job, and the service drivers.</summary>
    public static IHostApplicationBuilder AddPortalApplication(this IHostApplicationBuilder builder)
    {
        var handlers = typeof(ApplicationExtensions).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false, IsPublic: true } && t.Name.EndsWith("Handler", StringComparison.Ordinal));
        foreach (var handler in handlers)
        {
            builder.Services.AddScoped(handler);
        }

        builder.Services.AddOptions<Certificates.CaOptions>().BindConfiguration("Ca");
        builder.Services.AddSingleton<Certificates.PlatformCa>();
        builder.Services.AddHostedService<Certificates.PlatformCaStartup>();
        builder.Services.AddSingleton<Backends.BackendEndpoints>();
        builder.Services.AddSingleton<Backends.BackendReachability>();
        builder.Services.AddSingleton<Reconcile.DriftCheck>();
        builder.Services.AddScoped<Reconcile.ReconcileRun>();
        builder.Services.AddScoped<Reconcile.ReconcileJob>();
        builder.Services.AddOptions<Reconcile.ReconcileOptions>().BindConfiguration("Reconcile");
        builder.Services.AddScoped<OperationQueue>();
        builder.Services.AddSingleton<Telemetry.PortalMetrics>();
        builder.Services.AddScoped<Bindings.RetireDueJob>();
        builder.Services.AddScoped<Bindings.ScheduledRotationJob>();
        builder.Services.AddScoped<Bindings.CertificateRenewalJob>();
        builder.Services.AddOptions<Bindings.CertificateRenewalOptions>().BindConfiguration("Bindings");
        builder.Services.AddScoped<Audit.AuditWriter>();
        builder.Services.AddSingleton<Quotas.QuotaService>();
        builder.Services.AddSingleton<Approvals.ApprovalAccess>();
        builder.Services.AddScoped<Approvals.ApprovalDeadlinesJob>();
        builder.Services.AddScoped<Webhooks.WebhookPublisher>();
        builder.Services.AddScoped<Webhooks.WebhookDeliveryJob>();
        builder.Services.AddSingleton<Egress.EgressGuard>();
        builder.Services.AddHttpClient(nameof(Webhooks.WebhookDeliveryJob), c => c.Timeout = TimeSpan.FromSeconds(10))
            .ConfigurePrimaryHttpMessageHandler(sp => Egress.EgressHttp.Handler(sp.GetRequiredService<Egress.EgressGuard>(), Portal.Domain.Egress.EgressScope.Portal));
        builder.Services.AddOptions<Approvals.ApprovalOptions>().BindConfiguration("Approvals");
        builder.Services.AddScoped<Leases.LeaseJob>();
        builder.Services.AddOptions<Leases.LeaseOptions>().BindConfiguration("Leases");
        builder.Services.AddOptions<Quotas.QuotaDefaults>().BindConfiguration("Quotas:Defaults");
        builder.Services.AddScoped<OperationJob>();
        builder.Services.AddScoped<Backends.BackendHealthJob>();
        builder.Services.AddScoped<Observability.InstanceReads>();
        builder.Services.AddScoped<Observability.LogRetentionJob>();
        builder.Services.AddOptions<Backends.BackendHealthOptions>().BindConfiguration("Backends");
        builder.Services.AddOptions<OperationOptions>().BindConfiguration("Jobs");
        builder.Services.AddSingleton<InstanceEvents>();

        // Applications and scopes of the portal's OIDC server: service accounts, and the oidc driver's app clients.
        builder.Services.AddOpenIddict()
            .AddCore(o => o.UseEntityFrameworkCore().UseDbContext<Portal.Data.PortalDbContext>().ReplaceDefaultEntities<Guid>());

        // One driver per offering kind (src/Portal.Provisioning/<Kind>/). The named HttpClients of the rabbitmq, s3 and
        // monitoring drivers go through Http/BackendHttpClient, which times each call itself (an Admin Ops purge may
        // take minutes), so they need no timeout here.
        builder.Services.AddSingleton<IServiceDriver, PostgresDriver>();
        builder.Services.AddSingleton<IServiceDriver, RabbitMqDriver>();
        builder.Services.AddHttpClient(RabbitMqDriver.HttpClientName);
        builder.Services.AddSingleton<IServiceDriver, EtcdDriver>();
        builder.Services.AddHttpClient(EtcdDriver.HttpClientName);
        builder.Services.AddSingleton<IServiceDriver, RedisDriver>();
        builder.Services.AddSingleton<IServiceDriver, S3Driver>();
        builder.Services.AddHttpClient(S3Driver.HttpClientName);
        builder.Services.AddSingleton<IServiceDriver, LoggingDriver>();
        builder.Services.AddSingleton<IServiceDriver, MonitoringDriver>();
        builder.Services.AddHttpClient(MonitoringDriver.HttpClientName);
        builder.Services.AddSingleton<IServiceDriver, OidcDriver>();
        builder.Services.AddHttpClient(OidcDriver.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(15));
        builder.Services.AddSingleton<DriverRegistry>();
        return builder;
    }

    /// <summary>Web hosts: forward instance changes from any worker to the pages.</summary>
    public static IHostApplicationBuilder AddPortalLiveStatus(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHostedService<InstanceEventsListener>();
        return builder;
    }
}
