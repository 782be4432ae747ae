using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Portal.Data;

namespace Portal.Migrations;

public static class MigrationsExtensions
{
    /// <summary>The seeder and what it needs beyond the data layer.</summary>
    public static IHostApplicationBuilder AddPortalMigrator(this IHostApplicationBuilder builder)
    {
        builder.Services.AddPortalMigrator();
        return builder;
    }

    /// <summary>The same, for a host that is built elsewhere (the tests' web host).</summary>
    public static IServiceCollection AddPortalMigrator(this IServiceCollection services)
    {
        services.AddOptions<DemoOptions>().BindConfiguration("Demo");
        services.AddScoped<PortalSeeder>();
        // A web host has registered Identity already.
        if (services.All(s => s.ServiceType != typeof(UserManager<PortalUser>)))
        {
            services.AddPortalAccounts();
        }

        return services;
    }
}
