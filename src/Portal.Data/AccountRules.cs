using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace Portal.Data;

/// <summary>The account rules every host applies, so an account the migrator makes is one the web host accepts.</summary>
public static class AccountRules
{
    /// <summary>
    /// Local accounts and roles in the portal's database, for every host: the web host adds sign-in on top; the worker
    /// and the migrator need the user manager alone (jobs and seeding read and change accounts and roles).
    /// </summary>
    public static IdentityBuilder AddPortalAccounts(this IServiceCollection services) =>
        services.AddIdentityCore<PortalUser>(Apply)
            .AddRoles<IdentityRole<Guid>>()
            .AddEntityFrameworkStores<PortalDbContext>();

    public static void Apply(IdentityOptions options)
    {
        options.User.RequireUniqueEmail = false;
        // Length beats character classes (NIST SP 800-63B); generated passwords are long and alphanumeric.
        options.Password.RequiredLength = 12;
        options.Password.RequireNonAlphanumeric = false;
        options.Password.RequireUppercase = false;
        options.Password.RequireLowercase = false;
        options.Password.RequireDigit = false;
        // A slow backstop against guessing from many addresses; the per-address rate limit on the sign-in form is the
        // first line. A low threshold would let anyone lock anyone out (the admin too) with a few wrong passwords.
        options.Lockout.MaxFailedAccessAttempts = 50;
        options.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(15);
    }
}
