using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Portal.Data;
using Portal.Testing;

namespace Portal.Integration.Tests.Ops;

/// <summary>
/// The configuration keys the portal's hosts read, found in the application itself rather than listed by hand, so a
/// deployment file that names a setting the code no longer reads (or never did) fails its test:
/// <list type="bullet">
/// <item>every key of appsettings.json;</item>
/// <item>every <c>"Section:Key"</c> string in the hosts' source (<c>configuration["Auth:Issuer"]</c>, <c>GetValue("Jobs:RunServer")</c>);</item>
/// <item>every property of an options class bound to a section (<c>AddOptions&lt;T&gt;().BindConfiguration("S")</c>,
/// <c>Configure&lt;T&gt;(….GetSection("S"))</c>), by reflection over the type the source names;</item>
/// <item>the host's own settings (<c>urls</c>, <c>environment</c>, <c>Logging</c>, <c>Kestrel</c>).</item>
/// </list>
/// </summary>
public static partial class AppConfigurationKeys
{
    private static readonly string[] SourceFolders = ["src", "web", "migrations"];

    /// <summary>Settings the .NET host reads itself, and sections whose keys it defines (any key below them is real).</summary>
    private static readonly string[] HostKeys = ["urls", "environment", "applicationName", "contentRoot", "AllowedHosts"];

    private static readonly string[] HostSections = ["Logging", "Kestrel"];

    private static readonly Lazy<(HashSet<string> Keys, HashSet<string> OpenSections)> Found = new(Find);

    /// <summary>Every key found, <c>Section:Key</c> form, without array indexes.</summary>
    public static IReadOnlySet<string> Known => Found.Value.Keys;

    /// <summary>
    /// The names (environment form <c>Auth__Issuer</c>, <c>ASPNETCORE_URLS</c>, or <c>Auth:Issuer</c>) that are no setting
    /// the portal reads.
    /// </summary>
    public static IReadOnlyList<string> Unknown(IEnumerable<string> names) => names.Where(n => !IsKnown(n)).ToList();

    public static bool IsKnown(string name)
    {
        var key = Normalize(name);
        var (keys, open) = Found.Value;
        if (keys.Contains(key))
        {
            return true;
        }

        // Below a dictionary-valued setting (Demo:Backends:redis) or a host section (Logging:LogLevel:X), any key is real.
        for (var cut = key.LastIndexOf(':'); cut > 0; cut = key.LastIndexOf(':', cut - 1))
        {
            if (open.Contains(key[..cut]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary><c>ForwardedHeaders__KnownProxies__0</c> → <c>ForwardedHeaders:KnownProxies</c>; <c>ASPNETCORE_URLS</c> → <c>urls</c>.</summary>
    public static string Normalize(string name)
    {
        foreach (var prefix in new[] { "ASPNETCORE_", "DOTNET_" })
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                name = name[prefix.Length..];
            }
        }

        var segments = name.Replace("__", ":", StringComparison.Ordinal).Split(':').ToList();
        while (segments.Count > 1 && segments[^1].All(char.IsAsciiDigit))
        {
            segments.RemoveAt(segments.Count - 1);
        }

        return string.Join(':', segments);
    }

    private static (HashSet<string>, HashSet<string>) Find()
    {
        var keys = new HashSet<string>(HostKeys, StringComparer.OrdinalIgnoreCase);
        var open = new HashSet<string>(HostSections, StringComparer.OrdinalIgnoreCase);

        var settings = new ConfigurationBuilder().AddJsonFile(Path.Combine(OpsScripts.RepositoryRoot, "appsettings.json")).Build();
        foreach (var (key, _) in settings.AsEnumerable())
        {
            keys.Add(Normalize(key));
        }

        keys.Add($"ConnectionStrings:{DataExtensions.ConnectionStringName}");
        foreach (var file in SourceFiles())
        {
            var code = File.ReadAllText(file);
            foreach (Match literal in KeyLiteral().Matches(code))
            {
                keys.Add(literal.Groups["key"].Value);
            }

            foreach (Match binding in OptionsBinding().Matches(code))
            {
                AddProperties(keys, open, binding.Groups["section"].Value, FindType(binding.Groups["type"].Value), depth: 0);
            }
        }

        return (keys, open);
    }

    private static IEnumerable<string> SourceFiles() =>
        SourceFolders.Select(f => Path.Combine(OpsScripts.RepositoryRoot, f))
            .SelectMany(d => Directory.EnumerateFiles(d, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal)
                        && !f.Contains("/Migrations/Migrations/", StringComparison.Ordinal));

    private static void AddProperties(HashSet<string> keys, HashSet<string> open, string section, Type type, int depth)
    {
        keys.Add(section);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0))
        {
            var key = $"{section}:{property.Name}";
            keys.Add(key);
            var t = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (typeof(IDictionary).IsAssignableFrom(t) || t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)))
            {
                open.Add(key);
            }
            else if (t.IsClass && t != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(t) && depth < 4)
            {
                AddProperties(keys, open, key, t, depth + 1);
            }
        }
    }

    /// <summary>The type the source names (simple or qualified), among the hosts' assemblies and what they reference.</summary>
    private static Type FindType(string name)
    {
        var simple = name[(name.LastIndexOf('.') + 1)..];
        var assemblies = new Dictionary<string, Assembly>();
        var pending = new Queue<Assembly>([typeof(Program).Assembly, typeof(Portal.Migrations.MigratorProgram).Assembly]);
        while (pending.TryDequeue(out var assembly))
        {
            if (!assemblies.TryAdd(assembly.FullName!, assembly))
            {
                continue;
            }

            var match = assembly.GetTypes().FirstOrDefault(t => t.Name == simple && (t.FullName ?? "").EndsWith(name, StringComparison.Ordinal));
            if (match is not null)
            {
                return match;
            }

            foreach (var reference in assembly.GetReferencedAssemblies().Where(r => r.Name!.StartsWith("Portal", StringComparison.Ordinal) || r.Name!.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)))
            {
                pending.Enqueue(Assembly.Load(reference));
            }
        }

        throw new InvalidOperationException($"The options type {name} bound in the source is in none of the hosts' assemblies.");
    }

    [GeneratedRegex("\"(?<key>[A-Z][A-Za-z0-9]*(?::[A-Za-z0-9]+)+)\"")]
    private static partial Regex KeyLiteral();

    [GeneratedRegex("""(?:AddOptions<(?<type>[\w.]+)>\(\)\s*\.BindConfiguration\(|Configure<(?<type>[\w.]+)>\([^;]*?GetSection\()"(?<section>[\w:]+)"\)""")]
    private static partial Regex OptionsBinding();
}

/// <summary>The hosts' assemblies as the tests built them: what a deployment runs.</summary>
public static class HostAssemblies
{
    public static readonly IReadOnlyDictionary<string, string> Names = new Dictionary<string, string>
    {
        ["web"] = typeof(Program).Assembly.GetName().Name!,
        ["worker"] = Path.GetFileNameWithoutExtension(WorkerProcess.WorkerAssembly),
        ["migrator"] = typeof(Portal.Migrations.MigratorProgram).Assembly.GetName().Name!,
    };

    public static string AssemblyPath(string host) => host switch
    {
        "web" => typeof(Program).Assembly.Location,
        "worker" => WorkerProcess.WorkerAssembly,
        "migrator" => typeof(Portal.Migrations.MigratorProgram).Assembly.Location,
        _ => throw new ArgumentOutOfRangeException(nameof(host), host, "web, worker or migrator"),
    };
}
