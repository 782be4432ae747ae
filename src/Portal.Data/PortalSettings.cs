using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;

namespace Portal.Data;

public static class PortalSettings
{
    /// <summary>
    /// Adds the repository's one <c>appsettings.json</c> (copied next to every host's binaries) as the
    /// lowest-precedence source: environment variables, command-line arguments and test hosts override it.
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
        return configuration;
    }
}
