using Microsoft.AspNetCore.Identity;

namespace Portal.Data;

/// <summary>The account rules every host applies, so an account the migrator makes is one the web host accepts.</summary>
public static class AccountRules
{
    public static void Apply(IdentityOptions options)
    {
        options.User.RequireUniqueEmail = false;
        // Length beats character classes (NIST SP 800-63B); generated passwords are long and alphanumeric.
        options.Password.RequiredLength = 12;
        options.Password.RequireNonAlphanumeric = false;
        options.Password.RequireUppercase = false;
        options.Password.RequireLowercase = false;
        options.Password.RequireDigit = false;
        options.Lockout.MaxFailedAccessAttempts = 10;
        options.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(5);
    }
}
