using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Common;

namespace Portal.Application.Bindings;

/// <summary>A binding's credentials with what the formats name them by.</summary>
/// <param name="Kind">The offering's kind, e.g. <c>postgresql</c>: the servicebinding.io type and VCAP label.</param>
public sealed record BindingDocument(
    Guid BindingId, string AppName, string InstanceName, string OfferingKey, string Kind, string PlanKey,
    IReadOnlyDictionary<string, string> Credentials);

/// <summary>One rendering of a binding's credentials, ready to serve or download.</summary>
public sealed record RenderedCredentials(string Format, string ContentType, string FileName, byte[] Content)
{
    public string Text => Encoding.UTF8.GetString(Content);
}

/// <summary>
/// The formats apps read bindings in: the Open Service Broker credentials object (<c>json</c>), a
/// <c>.env</c> file (<c>env</c>), Cloud Foundry's <c>VCAP_SERVICES</c> (<c>vcap</c>), a Kubernetes Secret
/// following servicebinding.io (<c>k8s</c>), and the same as a <c>SERVICE_BINDING_ROOT</c> directory tree (<c>tar</c>).
/// </summary>
public static class CredentialFormats
{
    public static readonly IReadOnlyList<string> All = ["json", "env", "vcap", "k8s", "tar"];

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static RenderedCredentials Render(BindingDocument binding, string format) => format switch
    {
        "json" => new("json", "application/json", $"{Base(binding)}.json", Utf8(Json(binding))),
        "env" => new("env", "text/plain", $"{Base(binding)}.env", Utf8(Env(binding))),
        "vcap" => new("vcap", "application/json", $"{Base(binding)}-vcap.json", Utf8(Vcap(binding))),
        "k8s" => new("k8s", "application/yaml", $"{Base(binding)}-secret.yaml", Utf8(KubernetesSecret(binding))),
        "tar" => new("tar", "application/gzip", $"{Base(binding)}.tar.gz", Tree(binding)),
        _ => throw ValidationException.For("format", $"The format must be one of {string.Join(", ", All)}."),
    };

    /// <summary><c>{"credentials": {...}}</c>, as an Open Service Broker bind response.</summary>
    public static string Json(BindingDocument binding) =>
        new JsonObject { ["credentials"] = CredentialsObject(binding) }.ToJsonString(Indented) + "\n";

    /// <summary>
    /// <c>PORTAL_&lt;INSTANCE&gt;_&lt;KEY&gt;="value"</c> per credential: the instance name and the key in upper
    /// snake case (<c>orders-db</c> + <c>accessKeyId</c> → <c>PORTAL_ORDERS_DB_ACCESS_KEY_ID</c>); values double-quoted
    /// with <c>\</c>, <c>"</c> and <c>$</c> escaped. Multi-line values (PEM certificates) keep their newlines inside
    /// the quotes, which bash (<c>set -a; . file</c>), python-dotenv and Node's dotenv all read back unchanged.
    /// </summary>
    public static string Env(BindingDocument binding)
    {
        var text = new StringBuilder($"# {binding.AppName} → {binding.InstanceName} ({binding.OfferingKey}, plan {binding.PlanKey})\n");
        foreach (var (key, value) in binding.Credentials)
        {
            text.Append(EnvName(binding.InstanceName, key)).Append("=\"").Append(EnvEscape(value)).Append("\"\n");
        }

        return text.ToString();
    }

    public static string EnvName(string instanceName, string key) =>
        $"PORTAL_{Snake(instanceName)}_{Snake(key)}";

    /// <summary><c>VCAP_SERVICES</c>: the offering's label to a list of service instances with their credentials.</summary>
    public static string Vcap(BindingDocument binding)
    {
        var service = new JsonObject
        {
            ["label"] = binding.OfferingKey,
            ["plan"] = binding.PlanKey,
            ["name"] = binding.InstanceName,
            ["instance_name"] = binding.InstanceName,
            ["binding_name"] = binding.AppName,
            ["binding_guid"] = binding.BindingId.ToString(),
            ["tags"] = new JsonArray(binding.Kind, "portal"),
            ["credentials"] = CredentialsObject(binding),
        };
        return new JsonObject { [binding.OfferingKey] = new JsonArray(service) }.ToJsonString(Indented) + "\n";
    }

    /// <summary>A Secret of type <c>servicebinding.io/&lt;kind&gt;</c> with <c>type</c>, <c>provider</c> and every credential.</summary>
    public static string KubernetesSecret(BindingDocument binding)
    {
        var yaml = new StringBuilder();
        yaml.Append("apiVersion: v1\nkind: Secret\nmetadata:\n");
        yaml.Append("  name: ").Append(Quote(SecretName(binding))).Append('\n');
        yaml.Append("  labels:\n    app.kubernetes.io/managed-by: portal\n");
        yaml.Append("type: ").Append(Quote("servicebinding.io/" + binding.Kind)).Append('\n');
        yaml.Append("stringData:\n");
        foreach (var (key, value) in Entries(binding))
        {
            yaml.Append("  ").Append(Quote(key)).Append(": ").Append(Quote(value)).Append('\n');
        }

        return yaml.ToString();
    }

    /// <summary>The binding as a directory (<c>&lt;app&gt;-&lt;instance&gt;/&lt;key&gt;</c>, one file per entry) in a .tar.gz.</summary>
    public static byte[] Tree(BindingDocument binding)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: false))
        {
            var root = SecretName(binding);
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, root + "/") { Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute });
            foreach (var (key, value) in Entries(binding))
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, $"{root}/{key}")
                {
                    // Secrets: readable by their owner only.
                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(value)),
                };
                tar.WriteEntry(entry);
            }
        }

        return buffer.ToArray();
    }

    /// <summary>servicebinding.io entries: <c>type</c>, <c>provider</c>, then the credentials.</summary>
    private static IEnumerable<KeyValuePair<string, string>> Entries(BindingDocument binding) =>
        new[] { KeyValuePair.Create("type", binding.Kind), KeyValuePair.Create("provider", "portal") }
            .Concat(binding.Credentials.Where(c => c.Key is not ("type" or "provider")));

    private static string SecretName(BindingDocument binding) => $"{binding.AppName}-{binding.InstanceName}";

    private static string Base(BindingDocument binding) => SecretName(binding);

    private static JsonObject CredentialsObject(BindingDocument binding)
    {
        var credentials = new JsonObject();
        foreach (var (key, value) in binding.Credentials)
        {
            credentials[key] = value;
        }

        return credentials;
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static string Snake(string name)
    {
        var text = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c) && i > 0 && char.IsLower(name[i - 1]))
            {
                text.Append('_');
            }

            text.Append(char.IsLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        }

        return text.ToString();
    }

    private static string EnvEscape(string value) => value
        .Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("\"", "\\\"", StringComparison.Ordinal)
        .Replace("$", "\\$", StringComparison.Ordinal)
        .Replace("`", "\\`", StringComparison.Ordinal);

    /// <summary>A YAML double-quoted scalar.</summary>
    private static string Quote(string value)
    {
        var text = new StringBuilder("\"");
        foreach (var c in value)
        {
            text.Append(c switch
            {
                '\\' => "\\\\",
                '"' => "\\\"",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(CultureInfo.InvariantCulture),
            });
        }

        return text.Append('"').ToString();
    }
}
