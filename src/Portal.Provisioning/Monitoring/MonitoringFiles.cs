using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Portal.Provisioning.Monitoring;

/// <summary>
/// The files a monitoring instance has in the backend's config directory, rendered from templates, and the
/// whole <c>alertmanager.yml</c> rendered from the per-instance route fragments. All of it is JSON, which both
/// Prometheus and Alertmanager read as YAML, so no YAML library is needed and nothing needs YAML escaping.
/// </summary>
/// <remarks>
/// <para>
/// A target file always holds exactly <see cref="MonitoringSpec.MaxPathGroups"/> target groups, the unused ones
/// empty. Prometheus 2.42 drops the targets of a file's group only when file_sd sends an (empty) update for that
/// group's source; after a reload its file watcher can restart and forget which groups a file used to have, so a
/// group that vanished from a file (or a deleted file) keeps being scraped (prometheus#9495). With fixed slots every
/// source is always sent explicitly, and deprovisioning empties the file before deleting it.
/// </para>
/// <para>Writes go to a dot-named <c>.tmp</c> file (no <c>*.json</c>/<c>*.yml</c> glob matches it) and are then
/// renamed, so the servers never read half a file.</para>
/// </remarks>
public static partial class MonitoringFiles
{
    /// <summary>The base Alertmanager configuration (no instance routes) the backend's operator owns.</summary>
    public const string AlertmanagerBaseFile = "alertmanager-base.json";

    /// <summary>The Alertmanager configuration the driver renders.</summary>
    public const string AlertmanagerFile = "alertmanager.yml";

    /// <summary>The counters the error-rate template reads (Go/Python clients, and prometheus-net's ASP.NET Core middleware).</summary>
    public const string ErrorRateMetrics = "http_requests_total|http_requests_received_total";

    /// <summary>The share of 5xx answers above which the error-rate alert fires.</summary>
    public const double ErrorRateThreshold = 0.05;

    private const int MaxScrapeTimeoutSeconds = 10;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        // Keeps quotes, < > & readable in rule expressions and annotations; the output is never HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The file_sd target file of an instance: its targets in fixed group slots.</summary>
    public static string TargetFile(MonitoringSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var groups = new JsonArray();
        foreach (var group in spec.Groups)
        {
            var labels = new JsonObject
            {
                ["__scheme__"] = group.Key.Scheme,
                ["__metrics_path__"] = group.Key.Path,
            };
            if (spec.ScrapeIntervalSeconds is { } seconds)
            {
                // Per-target interval (Prometheus takes __scrape_interval__ from discovery when the job does not
                // override it); the timeout must not exceed the interval.
                labels["__scrape_interval__"] = Seconds(seconds);
                labels["__scrape_timeout__"] = Seconds(Math.Min(seconds, MaxScrapeTimeoutSeconds));
            }

            groups.Add(new JsonObject
            {
                ["targets"] = new JsonArray([.. group.Select(t => JsonValue.Create(t.Address))]),
                ["labels"] = labels,
            });
        }

        while (groups.Count < MonitoringSpec.MaxPathGroups)
        {
            groups.Add(EmptyGroup());
        }

        return groups.ToJsonString(Json) + "\n";
    }

    /// <summary>A target file with every slot empty: Prometheus drops all of the file's targets.</summary>
    public static string EmptyTargetFile()
    {
        var groups = new JsonArray();
        for (var i = 0; i < MonitoringSpec.MaxPathGroups; i++)
        {
            groups.Add(EmptyGroup());
        }

        return groups.ToJsonString(Json) + "\n";
    }

    /// <summary>The scrape URLs a target file lists.</summary>
    public static IReadOnlyList<ScrapeEndpoint> ReadTargetFile(string json)
    {
        var result = new List<ScrapeEndpoint>();
        if (JsonNode.Parse(json) is not JsonArray groups)
        {
            throw new FormatException("A target file must hold a JSON array of target groups.");
        }

        foreach (var group in groups.OfType<JsonObject>())
        {
            var labels = group["labels"] as JsonObject;
            var scheme = labels?["__scheme__"]?.GetValue<string>() ?? "http";
            var path = labels?["__metrics_path__"]?.GetValue<string>() ?? "/metrics";
            foreach (var address in (group["targets"] as JsonArray ?? []).Select(t => t?.GetValue<string>()).OfType<string>())
            {
                result.Add(new ScrapeEndpoint(scheme, address, path));
            }
        }

        return result;
    }

    /// <summary>
    /// The instance's rule file: one rule group named after the instance with the templates the spec uses. Every
    /// expression selects by the instance label only, and every alert carries it, so routes can match on it.
    /// </summary>
    /// <param name="alertFor">How long a condition holds before it fires (Prometheus duration).</param>
    /// <param name="rateWindow">The range of the error-rate template's <c>rate()</c> (Prometheus duration).</param>
    public static string RuleFile(Guid instanceId, MonitoringSpec spec, string alertFor, string rateWindow)
    {
        ArgumentNullException.ThrowIfNull(spec);
        RequireDuration(alertFor, nameof(alertFor));
        RequireDuration(rateWindow, nameof(rateWindow));
        var name = MonitoringNames.Instance(instanceId);
        var matcher = MonitoringNames.Matcher(instanceId);
        var rules = new JsonArray();
        if (spec.Uses(MonitoringSpec.TargetDown))
        {
            rules.Add(Rule("TargetDown", $"up{{{matcher}}} == 0", alertFor, name, "critical",
                "{{ $labels.instance }} is down",
                "Prometheus could not scrape {{ $labels.instance }} for " + alertFor + "."));
        }

        if (spec.Uses(MonitoringSpec.ErrorRate))
        {
            var requests = $"{{__name__=~\"{ErrorRateMetrics}\",{matcher}";
            var threshold = ErrorRateThreshold.ToString(CultureInfo.InvariantCulture);
            rules.Add(Rule("HighErrorRate",
                $"sum(rate({requests},code=~\"5..\"}}[{rateWindow}])) / sum(rate({requests}}}[{rateWindow}])) > {threshold}",
                alertFor, name, "warning",
                "More than " + (ErrorRateThreshold * 100).ToString(CultureInfo.InvariantCulture) + " % of requests fail",
                "{{ $value | humanizePercentage }} of HTTP requests answered 5xx over " + rateWindow + "."));
        }

        var file = new JsonObject
        {
            ["groups"] = new JsonArray(new JsonObject { ["name"] = name, ["rules"] = rules }),
        };
        return file.ToJsonString(Json) + "\n";
    }

    /// <summary>The instance's Alertmanager route fragment: a route on the instance label to its webhook receiver.</summary>
    public static string RouteFragment(Guid instanceId, Uri webhook)
    {
        ArgumentNullException.ThrowIfNull(webhook);
        var name = MonitoringNames.Instance(instanceId);
        var fragment = new JsonObject
        {
            ["route"] = new JsonObject
            {
                ["receiver"] = name,
                ["matchers"] = new JsonArray(JsonValue.Create(MonitoringNames.Matcher(instanceId))),
            },
            ["receiver"] = new JsonObject
            {
                ["name"] = name,
                ["webhook_configs"] = new JsonArray(new JsonObject
                {
                    ["url"] = webhook.AbsoluteUri,
                    ["send_resolved"] = true,
                }),
            },
        };
        return fragment.ToJsonString(Json) + "\n";
    }

    /// <summary>
    /// The whole <c>alertmanager.yml</c>: the base with each fragment's route appended to the root route's
    /// <c>routes</c> and its receiver to <c>receivers</c>, fragments in name order (Alertmanager 0.25 has no includes).
    /// </summary>
    /// <param name="fragments">(file name, JSON) of each route fragment.</param>
    public static string AlertmanagerConfig(string baseJson, IEnumerable<(string Name, string Json)> fragments)
    {
        ArgumentNullException.ThrowIfNull(fragments);
        if (JsonNode.Parse(baseJson, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })
            is not JsonObject root
            || root["route"] is not JsonObject route
            || root["receivers"] is not JsonArray receivers)
        {
            throw new FormatException($"{AlertmanagerBaseFile} must be a JSON object with a route and receivers.");
        }

        if (route["routes"] is not JsonArray routes)
        {
            routes = [];
            route["routes"] = routes;
        }

        foreach (var (name, json) in fragments.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            if (JsonNode.Parse(json) is not JsonObject { } fragment
                || fragment["route"] is not JsonObject fragmentRoute
                || fragment["receiver"] is not JsonObject fragmentReceiver)
            {
                throw new FormatException($"The route fragment {name} must be a JSON object with a route and a receiver.");
            }

            routes.Add(fragmentRoute.DeepClone());
            receivers.Add(fragmentReceiver.DeepClone());
        }

        return root.ToJsonString(Json) + "\n";
    }

    /// <summary>Whether the text is a Prometheus duration such as <c>90s</c>, <c>2m</c> or <c>1h30m</c>.</summary>
    public static bool IsDuration(string? text) => text is not null && DurationPattern().IsMatch(text);

    /// <summary>Writes a file so that readers see the old or the new content, never a part.</summary>
    public static async Task WriteAtomicAsync(string path, string content, CancellationToken ct)
    {
        var temp = Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + ".tmp");
        await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(content), ct);
            // On disk before the rename, so a crash cannot leave an empty file under the real name.
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Writes the file atomically unless it already has the content; returns whether it wrote.</summary>
    public static async Task<bool> WriteIfChangedAsync(string path, string content, CancellationToken ct)
    {
        if (File.Exists(path) && await File.ReadAllTextAsync(path, ct) == content)
        {
            return false;
        }

        await WriteAtomicAsync(path, content, ct);
        return true;
    }

    /// <summary>Deletes the file and its leftover temp file, if there.</summary>
    public static void Delete(string path)
    {
        File.Delete(path);
        File.Delete(Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + ".tmp"));
    }

    private static void RequireDuration(string value, string name)
    {
        if (!IsDuration(value))
        {
            throw new ArgumentException($"'{value}' is not a Prometheus duration (e.g. 30s, 2m, 1h30m).", name);
        }
    }

    private static JsonObject Rule(
        string alert, string expr, string @for, string instance, string severity, string summary, string description) =>
        new()
        {
            ["alert"] = alert,
            ["expr"] = expr,
            ["for"] = @for,
            ["labels"] = new JsonObject { [MonitoringNames.LabelName] = instance, ["severity"] = severity },
            ["annotations"] = new JsonObject { ["summary"] = summary, ["description"] = description },
        };

    private static JsonObject EmptyGroup() => new() { ["targets"] = new JsonArray(), ["labels"] = new JsonObject() };

    private static string Seconds(int seconds) => seconds.ToString(CultureInfo.InvariantCulture) + "s";

    [GeneratedRegex(@"\A([0-9]+(ms|s|m|h|d|w|y))+\z")]
    private static partial Regex DurationPattern();
}
