using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Configuration.KeyPerFile;

namespace Portal.Data;

public static class PortalSettings
{
    /// <summary>The variable systemd sets to the folder of a service's <c>LoadCredential=</c> files.</summary>
    public const string CredentialsDirectoryVariable = "CREDENTIALS_DIRECTORY";

    /// <summary>
    /// Adds the repository's one <c>appsettings.json</c> (copied next to every host's binaries) as the
    /// lowest-precedence source: environment variables, command-line arguments and test hosts override it.
    /// Under systemd, also the service's credentials (<see cref="AddCredentials"/>).
    /// </summary>
    public static IConfigurationBuilder AddPortalSettings(this IConfigurationBuilder configuration)
    {
        var source = new JsonConfigurationSource
        {
            Path = Path.Combine(AppContext.BaseDirectory, "appsettings.json"),
            Optional = true,
            ReloadOnChange = false,
        };
        source.ResolveFileProvider();
        configuration.Sources.Insert(0, source);
        return configuration.AddCredentials(Environment.GetEnvironmentVariable(CredentialsDirectoryVariable));
    }

    /// <summary>
    /// Reads each file of <paramref name="directory"/> as one setting named by the file (<c>ConnectionStrings__Portal</c>
    /// is <c>ConnectionStrings:Portal</c>), so secrets reach the hosts as systemd credentials: readable by the service
    /// only, never in its environment (which <c>systemctl show</c> and child processes see). Files with a dot in their
    /// name are files, not settings (<c>dataprotection.pfx</c>, which a setting names by its path). Highest precedence.
    /// </summary>
    public static IConfigurationBuilder AddCredentials(this IConfigurationBuilder configuration, string? directory)
    {
        if (string.IsNullOrEmpty(directory))
        {
            return configuration;
        }

        return configuration.AddKeyPerFile(source =>
        {
            source.FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(directory);
            source.Optional = false;
            source.IgnoreCondition = name => name.Contains('.', StringComparison.Ordinal);
        });
    }
}
