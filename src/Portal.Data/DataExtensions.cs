using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Portal.Data.Security;

namespace Portal.Data;

public static class DataExtensions
{
    public const string ConnectionStringName = "Portal";

    public const string MigrationsAssembly = "Portal.Migrations";

    /// <summary>
    /// Registers <see cref="PortalDbContext"/> (through a factory: Blazor circuits outlive requests),
    /// Data Protection with its keys in PostgreSQL, and the secret protector.
    /// </summary>
    public static IHostApplicationBuilder AddPortalData(this IHostApplicationBuilder builder)
    {
        // The connection string is read when the first context is made, not here: a test host
        // applies its own settings inside Build(), after this method has run.
        builder.Services.AddDbContextFactory<PortalDbContext>((sp, options) =>
            options.UsePortalDatabase(GetConnectionString(sp.GetRequiredService<IConfiguration>())));

        builder.Services.AddDataProtection()
            .SetApplicationName("Portal")
            .PersistKeysToDbContext<PortalDbContext>()
            .ProtectKeysWithConfiguredCertificate(builder.Configuration);
        builder.Services.AddSingleton<SecretProtector>();
        builder.Services.AddSingleton(TimeProvider.System);
        return builder;
    }

    public static DbContextOptionsBuilder UsePortalDatabase(this DbContextOptionsBuilder options, string connectionString) =>
        options.UseNpgsql(connectionString, npgsql => npgsql.MigrationsAssembly(MigrationsAssembly));

    public static string GetConnectionString(IConfiguration configuration) =>
        configuration.GetConnectionString(ConnectionStringName) is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                $"ConnectionStrings:{ConnectionStringName} is not set. Run `ops/portal up`, or set ConnectionStrings__{ConnectionStringName}.");
}
