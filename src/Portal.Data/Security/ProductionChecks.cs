using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Portal.Data.Security;

/// <summary>
/// Settings that must be safe wherever the portal runs for real: outside the Development environment a host refuses to
/// start while one of them is not, with a message naming the setting that fixes it. Each feature registers its own
/// check beside the thing it checks; a check reads the effective options (what the host will really do), not the raw
/// setting. Development (<c>ASPNETCORE_ENVIRONMENT</c> for the web host, <c>DOTNET_ENVIRONMENT</c> for the worker) is
/// exempt: it is the plain-HTTP loopback setup of the tests and of a developer's machine.
/// </summary>
/// <remarks>
/// The checks run as start-up validation (<c>ValidateOnStart</c>), before any hosted service or the server starts, and
/// see the final configuration (a test host's settings included). All failing checks are reported at once.
/// </remarks>
public static class ProductionChecks
{
    /// <summary>
    /// Adds a check: <paramref name="check"/> returns null when all is well, else what is wrong and which setting fixes it.
    /// </summary>
    public static IServiceCollection AddProductionCheck(this IServiceCollection services, Func<IServiceProvider, string?> check)
    {
        ArgumentNullException.ThrowIfNull(check);
        services.AddSingleton(new ProductionCheck(check));
        services.AddOptions<ProductionSafety>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ProductionSafety>, ProductionSafetyValidator>());
        return services;
    }

    /// <summary>What failed, for a host that runs the checks itself (one that is never started, e.g. a tool).</summary>
    public static IReadOnlyList<string> Failures(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetRequiredService<IHostEnvironment>().IsDevelopment()
            ? []
            : [.. services.GetServices<ProductionCheck>().Select(c => c.Run(services)).OfType<string>()];
    }

    private sealed record ProductionCheck(Func<IServiceProvider, string?> Run);

    private sealed class ProductionSafetyValidator(IServiceProvider services) : IValidateOptions<ProductionSafety>
    {
        public ValidateOptionsResult Validate(string? name, ProductionSafety options) =>
            Failures(services) is { Count: > 0 } failures
                ? ValidateOptionsResult.Fail(failures.Select(f => $"Refusing to start outside Development: {f}"))
                : ValidateOptionsResult.Success;
    }
}

/// <summary>The options that <see cref="ProductionChecks"/> validates at start-up; it carries nothing itself.</summary>
public sealed class ProductionSafety;
