using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Portal.Provisioning.Monitoring;

/// <summary>
/// Serves <c>monitoring</c> instances on one shared Prometheus and Alertmanager. An instance is a file_sd target
/// file (its app's metrics endpoints), a rule file (alert templates) and an Alertmanager route fragment (its
/// webhook), all in the backend's <c>configDir</c> and named after the instance id; Prometheus stamps every series
/// of the instance's targets with <c>portal_instance=mon-&lt;id&gt;</c> from the file name. The files are the
/// record: every call rewrites them from the instance's parameters and plan and reloads the servers over HTTP, so a
/// retry after a crash converges.
/// </summary>
/// <remarks>
/// Host and Port are Prometheus's HTTP API (with <c>--web.enable-lifecycle</c> and <c>--web.enable-admin-api</c>);
/// AdminUser/AdminPassword are its basic-auth user, which Alertmanager accepts too (one web config file for both;
/// an empty password sends no credentials). The driver must run on the servers' host, since it writes the files.
/// Reads (<see cref="TargetsAsync"/>, <see cref="QueryRangeAsync"/>, <see cref="MetricNamesAsync"/>) build every
/// selector themselves with the instance label; no caller text ever becomes PromQL except a validated metric name.
/// </remarks>
public sealed partial class MonitoringDriver : IMonitoringDriver
{
    /// <summary>The name of the <see cref="HttpClient"/> the driver asks <see cref="IHttpClientFactory"/> for.</summary>
    public const string HttpClientName = "monitoring";

    private static readonly string[] RequiredFlags = ["web.enable-lifecycle", "web.enable-admin-api"];

    /// <summary>Backend setting: the Alertmanager's base URL.</summary>
    public const string AlertmanagerUrlSetting = "alertmanagerUrl";

    /// <summary>Backend setting: the directory Prometheus and Alertmanager read the instances' files from.</summary>
    public const string ConfigDirSetting = "configDir";

    /// <summary>Backend setting: how long an alert condition must hold before it fires.</summary>
    public const string AlertForSetting = "alertFor";

    /// <summary>Backend setting: the range of <c>rate()</c> in the error-rate alert and in charts of counters.</summary>
    public const string RateWindowSetting = "rateWindow";

    /// <summary>How long one HTTP call may take.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long deprovisioning waits for Prometheus to drop the instance's targets: its discovery and scrape managers
    /// each act every 5 s, and stopping a scrape loop waits for a running scrape (up to its 10 s timeout).
    /// </summary>
    public static readonly TimeSpan TargetRemovalTimeout = TimeSpan.FromSeconds(60);

    private const string DefaultAlertFor = "2m";
    private const string DefaultRateWindow = "5m";
    private const int MaxPoints = 11_000;

    private static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly IHttpClientFactory _httpClientFactory;
    private readonly ILogger<MonitoringDriver> _logger;

    /// <summary>Creates the driver.</summary>
    public MonitoringDriver(IHttpClientFactory httpClientFactory, ILogger<MonitoringDriver> logger)
    {
        ArgumentNullException.ThrowIfNull(httpClientFactory);
        ArgumentNullException.ThrowIfNull(logger);
        _httpClientFactory = httpClientFactory;
        _logger = logger;
    }

    /// <inheritdoc />
    public string Kind => "monitoring";

    /// <inheritdoc />
    public IReadOnlyList<DriverField> BackendSettings { get; } =
    [
        new(AlertmanagerUrlSetting, "Alertmanager URL",
            "Base URL of the Alertmanager Prometheus sends alerts to, e.g. http://127.0.0.1:9093. It accepts the same " +
            "admin user as Prometheus (Host and Port are Prometheus's HTTP API).",
            Required: true),
        new(ConfigDirSetting, "Config directory",
            "Directory on the servers' host with targets/, rules/, routes/ and alertmanager-base.json: prometheus.yml " +
            "reads targets/*.json (file_sd) and rules/*.yml, and Alertmanager reads alertmanager.yml there. The driver " +
            "writes these files, so it runs on that host.",
            Required: true),
        new(AlertForSetting, "Alert delay",
            "How long a condition must hold before an alert fires (Prometheus duration). Default 2m."),
        new(RateWindowSetting, "Rate window",
            "Range of rate() in the error-rate alert and in charts of counters; at least 4 scrape intervals. Default 5m."),
    ];

    /// <inheritdoc />
    public IReadOnlyList<DriverField> InstanceParameters { get; } =
    [
        new(MonitoringSpec.TargetsParameter, "Metrics endpoints",
            "Your app's metrics endpoints, separated by spaces: host:port (scraped at http://host:port/metrics) or " +
            "http(s)://host:port/path.",
            Required: true),
        new(MonitoringSpec.AlertWebhookParameter, "Alert webhook",
            "URL Alertmanager posts your alerts to (its webhook JSON, firing and resolved). Empty: alerts are only shown."),
        new(MonitoringSpec.AlertsParameter, "Alerts",
            "Alert templates, separated by spaces: targetDown (an endpoint cannot be scraped), errorRate (over 5 % of " +
            "http_requests_total or http_requests_received_total have a 5xx code). Empty: both; none: no alerts."),
    ];

    /// <inheritdoc />
    public IReadOnlyList<DriverField> PlanLimits { get; } =
    [
        new(MonitoringSpec.MaxTargetsLimit, "Targets",
            $"Most metrics endpoints an instance may have (at most {MonitoringSpec.MaxTargets}). No value: {MonitoringSpec.MaxTargets}."),
        new(MonitoringSpec.ScrapeIntervalLimit, "Scrape interval (s)",
            "Seconds between two scrapes of each endpoint. No value: the server's default."),
    ];

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) =>
        MonitoringSpec.Validate(parameters);

    /// <inheritdoc />
    /// <remarks>Prometheus scrapes the targets and Alertmanager posts to the webhook: both connect.</remarks>
    public IReadOnlyList<ParameterUrl> ParameterUrls(IReadOnlyDictionary<string, string> parameters) => MonitoringSpec.ParameterUrls(parameters);

    /// <inheritdoc />
    public async Task<ProvisionResult> ProvisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        await ApplyAsync(instance, requireExisting: false, ct);
        return new ProvisionResult(new Dictionary<string, string>
        {
            ["job"] = MonitoringNames.JobName,
            ["label"] = MonitoringNames.Matcher(instance.InstanceId),
        });
    }

    /// <inheritdoc />
    public Task UpdateAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return ApplyAsync(instance, requireExisting: true, ct);
    }

    /// <inheritdoc />
    public async Task DeprovisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var name = MonitoringNames.Instance(instance.InstanceId);
        var configDir = ConfigDir(instance.Backend);
        using var api = Api(instance.Backend);
        using var _ = await ConfigDirLock.AcquireAsync(configDir, LockTimeout, ct);

        // Targets first, and without a reload until Prometheus has dropped them: a reload racing the removal of a
        // target file can leave its targets scraped until restart. Emptying the file's slots drops them even when
        // Prometheus forgot the file, e.g. after such a race in an earlier try.
        var targetFile = MonitoringNames.TargetFile(configDir, instance.InstanceId);
        if (File.Exists(targetFile) || (await api.ActiveTargetsAsync(name, ct)).Count > 0)
        {
            instance.Progress.Report($"Removing the scrape targets of {name}");
            await MonitoringFiles.WriteAtomicAsync(targetFile, MonitoringFiles.EmptyTargetFile(), ct);
            await WaitForTargetsGoneAsync(api, name, ct);
        }

        MonitoringFiles.Delete(targetFile);

        instance.Progress.Report($"Removing the alert rules of {name}");
        var ruleFile = MonitoringNames.RuleFile(configDir, instance.InstanceId);
        var hadRules = File.Exists(ruleFile);
        MonitoringFiles.Delete(ruleFile);
        await SyncRulesAsync(api, ruleFile, name, hadRules, ct);

        instance.Progress.Report($"Deleting the stored series of {name}");
        await api.DeleteSeriesAsync(MonitoringNames.Selector(instance.InstanceId), ct);

        // Alertmanager keeps a firing alert active for minutes after Prometheus stops sending it; resolve it now so
        // nothing of the instance stays active. (Prometheus may have resolved it already, when a rule evaluation ran
        // after the target was dropped.)
        var resolved = await api.ResolveAlertsAsync(MonitoringNames.Matcher(instance.InstanceId), ct);
        if (resolved > 0)
        {
            instance.Progress.Report($"Resolved {resolved.ToString(CultureInfo.InvariantCulture)} active alerts of {name}");
        }

        instance.Progress.Report($"Removing the alert route of {name}");
        MonitoringFiles.Delete(MonitoringNames.RouteFile(configDir, instance.InstanceId));
        await RenderAlertmanagerAsync(configDir, api, ct);

        _logger.LogInformation("Deprovisioned monitoring instance {Instance} on {Backend}", name, instance.Backend);
    }

    /// <summary>
    /// Returns what the app needs to be monitored: the URLs Prometheus scrapes (the app serves the Prometheus text
    /// format there), the interval, and the job and label its series get. Nothing on the backend is per binding and
    /// nothing is secret: Prometheus pulls, and the read credential for the team's own series is the portal's
    /// (its queries go through <see cref="QueryRangeAsync"/>, which scopes them to the instance).
    /// </summary>
    public async Task<BindingCredentials> BindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var spec = MonitoringSpec.From(instance);
        RequireProvisioned(instance);
        using var api = Api(instance.Backend);
        var interval = spec.ScrapeIntervalSeconds is { } seconds
            ? seconds.ToString(CultureInfo.InvariantCulture) + "s"
            : await api.GlobalScrapeIntervalAsync(ct);

        instance.Progress.Report($"Binding {binding.BindingId:N} reads the settings of {MonitoringNames.Instance(instance.InstanceId)}");
        return new BindingCredentials(new OrderedDictionary<string, string>
        {
            ["scrapeUrls"] = string.Join(' ', spec.Targets.Select(t => t.Url)),
            ["scrapeInterval"] = interval,
            ["job"] = MonitoringNames.JobName,
            ["labelName"] = MonitoringNames.LabelName,
            ["labelValue"] = MonitoringNames.Instance(instance.InstanceId),
            ["alerts"] = string.Join(' ', spec.Alerts),
        });
    }

    /// <summary>Nothing to revoke on the backend: a binding holds no server-side credential.</summary>
    public Task UnbindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Nothing to retire on the backend: a binding holds no server-side credential (Prometheus scrapes the app, the
    /// app sends nothing), so every generation's <see cref="BindAsync"/> returns the same settings and a rotation
    /// only re-issues them.
    /// </summary>
    public Task RetireAsync(BindingContext binding, int generation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ArgumentOutOfRangeException.ThrowIfNegative(generation);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<HealthReport> CheckAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var name = MonitoringNames.Instance(instance.InstanceId);
        try
        {
            var configDir = ConfigDir(instance.Backend);
            if (!File.Exists(MonitoringNames.TargetFile(configDir, instance.InstanceId)))
            {
                return new HealthReport(false, $"{name} has no target file");
            }

            if (!File.Exists(MonitoringNames.RuleFile(configDir, instance.InstanceId)))
            {
                return new HealthReport(false, $"{name} has no rule file");
            }

            using var api = Api(instance.Backend);
            if (!await api.PrometheusReadyAsync(ct))
            {
                return new HealthReport(false, "Prometheus is not ready");
            }

            if (!(await api.RuleGroupsAsync(ct)).Contains(name))
            {
                return new HealthReport(false, $"Prometheus has not loaded the rule group {name}");
            }

            if (File.Exists(MonitoringNames.RouteFile(configDir, instance.InstanceId)) && !await api.AlertmanagerReadyAsync(ct))
            {
                return new HealthReport(false, "Alertmanager is not ready");
            }

            var targets = await TargetsAsync(instance, ct);
            var counts = string.Join(", ", targets.GroupBy(t => t.Health).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Count().ToString(CultureInfo.InvariantCulture)} {g.Key}"));
            return new HealthReport(true, $"{name} is monitored: {targets.Count.ToString(CultureInfo.InvariantCulture)} targets ({counts})");
        }
        catch (Exception e) when (e is (HttpRequestException or TimeoutException or JsonException or InvalidOperationException or IOException)
            && !ct.IsCancellationRequested)
        {
            return new HealthReport(false, $"backend {instance.Backend} not reachable: {e.Message}");
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The instance exists while any of its files does (target, rule or route file), so a half-made or half-removed
    /// instance is not taken for absent. Each file must hold what the instance's parameters, plan and the backend's
    /// settings make; Prometheus must evaluate its rule group exactly while the rule file is there, and scrape nothing
    /// of it without a target file; Alertmanager must route its alerts exactly while it has a webhook. Nothing is per
    /// binding (<see cref="Observation.Bindings"/> is null).
    /// </remarks>
    public async Task<Observation> ObserveAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var backend = instance.Backend;
        var configDir = ConfigDir(backend);
        var name = MonitoringNames.Instance(instance.InstanceId);
        var spec = MonitoringSpec.From(instance);
        using var api = Api(backend);
        var differences = new List<string>();

        var targetFile = MonitoringNames.TargetFile(configDir, instance.InstanceId);
        var ruleFile = MonitoringNames.RuleFile(configDir, instance.InstanceId);
        var routeFile = MonitoringNames.RouteFile(configDir, instance.InstanceId);
        var wanted = new List<(string Path, string What, string? Content)>
        {
            (targetFile, "target file", MonitoringFiles.TargetFile(spec)),
            (ruleFile, "rule file", MonitoringFiles.RuleFile(instance.InstanceId, spec,
                Duration(backend, AlertForSetting, DefaultAlertFor), Duration(backend, RateWindowSetting, DefaultRateWindow))),
            (routeFile, "alert route", spec.AlertWebhook is { } webhook ? MonitoringFiles.RouteFragment(instance.InstanceId, webhook) : null),
        };
        var found = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (path, _, _) in wanted)
        {
            found[path] = File.Exists(path) ? await File.ReadAllTextAsync(path, ct) : null;
        }

        var exists = found.Values.Any(c => c is not null);
        if (exists)
        {
            foreach (var (path, what, content) in wanted)
            {
                var actual = found[path];
                if (content is not null && actual is null)
                {
                    differences.Add($"the {what} of {name} is missing");
                }
                else if (content is null && actual is not null)
                {
                    differences.Add($"{name} has an {what}, though it has no alert webhook");
                }
                else if (content != actual)
                {
                    differences.Add($"the {what} of {name} differs from what its settings and plan make");
                }
            }
        }

        var evaluated = (await api.RuleGroupsAsync(ct)).Contains(name);
        if (found[ruleFile] is not null && !evaluated)
        {
            differences.Add($"Prometheus does not evaluate the rule group {name}");
        }
        else if (found[ruleFile] is null && evaluated)
        {
            differences.Add($"Prometheus still evaluates the rule group {name}, whose rule file is gone");
        }

        if (found[targetFile] is null && (await api.ActiveTargetsAsync(name, ct)).Count is > 0 and var scraped)
        {
            differences.Add($"Prometheus still scrapes {scraped.ToString(CultureInfo.InvariantCulture)} target(s) of {name}, whose target file is gone");
        }

        // The receiver is named after the instance, which nothing else in the configuration is.
        var routed = (await api.AlertmanagerLoadedConfigAsync(ct)).Contains(name, StringComparison.Ordinal);
        if (found[routeFile] is not null && !routed)
        {
            differences.Add($"Alertmanager does not route the alerts of {name}");
        }
        else if (found[routeFile] is null && routed)
        {
            differences.Add($"Alertmanager still routes the alerts of {name}, whose alert route is gone");
        }

        return new Observation(exists, differences, Bindings: null);
    }

    /// <inheritdoc />
    public async Task<HealthReport> TestBackendAsync(BackendEndpoint backend, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(backend);
        try
        {
            using var api = Api(backend);
            var configDir = ConfigDir(backend);
            var prometheus = await api.PrometheusVersionAsync(ct);
            var flags = await api.FlagsAsync(ct);
            var missing = RequiredFlags
                .Where(f => !flags.TryGetValue(f, out var v) || v != "true").ToList();
            if (missing.Count > 0)
            {
                return new HealthReport(false,
                    $"Prometheus {prometheus} runs without --{string.Join(" and --", missing)}; the driver reloads it and deletes series.");
            }

            var config = await api.PrometheusConfigAsync(ct);
            foreach (var glob in new[] { Path.Combine(configDir, "targets", "*.json"), Path.Combine(configDir, "rules", "*.yml") })
            {
                if (!config.Contains(glob, StringComparison.Ordinal))
                {
                    return new HealthReport(false, $"Prometheus {prometheus} does not read {glob}; check the {ConfigDirSetting} setting.");
                }
            }

            if (!await api.PrometheusReadyAsync(ct))
            {
                return new HealthReport(false, $"Prometheus {prometheus} is not ready.");
            }

            var alertmanager = await api.AlertmanagerVersionAsync(ct);
            if (!await api.AlertmanagerReadyAsync(ct))
            {
                return new HealthReport(false, $"Alertmanager {alertmanager} is not ready.");
            }

            // Rendering with no fragments proves the base is there and well-formed.
            MonitoringFiles.AlertmanagerConfig(await File.ReadAllTextAsync(Path.Combine(configDir, MonitoringFiles.AlertmanagerBaseFile), ct), []);
            foreach (var sub in new[] { "targets", "rules", "routes" })
            {
                var probe = Path.Combine(configDir, sub, $".portal-probe-{Guid.NewGuid():N}.tmp");
                await File.WriteAllTextAsync(probe, "", ct);
                File.Delete(probe);
            }

            return new HealthReport(true, $"Prometheus {prometheus} and Alertmanager {alertmanager} are ready; {configDir} is writable");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Auth, network, file and configuration failures are the answer to "test connection", not a crash.
            _logger.LogWarning("Backend test of {Backend} failed: {Error}", backend, e.Message);
            return new HealthReport(false, e.Message);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ScrapeTarget>> TargetsAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var name = MonitoringNames.Instance(instance.InstanceId);
        using var api = Api(instance.Backend);
        var active = await api.ActiveTargetsAsync(name, ct);
        var targetFile = MonitoringNames.TargetFile(ConfigDir(instance.Backend), instance.InstanceId);
        var listed = File.Exists(targetFile)
            ? MonitoringFiles.ReadTargetFile(await File.ReadAllTextAsync(targetFile, ct))
            : [];

        // Targets in the file that Prometheus has not discovered yet (file_sd updates every 5 s) are "unknown".
        var known = active.Select(t => t.Url).ToHashSet(StringComparer.Ordinal);
        return active
            .Concat(listed.Where(t => !known.Contains(t.Url)).Select(t => new ScrapeTarget(t.Url, "unknown", null, null)))
            .OrderBy(t => t.Url, StringComparer.Ordinal)
            .ToList();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<MetricSeries>> QueryRangeAsync(InstanceContext instance, MetricQuery query, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(query);
        var expression = QueryExpression(instance.InstanceId, query, RateWindow(instance.Backend));
        var name = MonitoringNames.Instance(instance.InstanceId);
        using var api = Api(instance.Backend);
        var series = await api.QueryRangeAsync(expression, query.Start, query.End, query.Step, ct);
        // The selector already limits the result to the instance; this is a second line should that ever change.
        return series.Where(s => s.Labels.TryGetValue(MonitoringNames.LabelName, out var v) && v == name).ToList();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> MetricNamesAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        using var api = Api(instance.Backend);
        return await api.LabelValuesAsync("__name__", MonitoringNames.Selector(instance.InstanceId), ct);
    }

    /// <summary>
    /// The PromQL of a chart: <c>metric{portal_instance="mon-&lt;id&gt;"}</c>, or its <c>rate()</c> over
    /// max(<paramref name="rateWindow"/>, step). The metric name must match the metric-name grammar, so it cannot
    /// add matchers, operators or other selectors.
    /// </summary>
    public static string QueryExpression(Guid instanceId, MetricQuery query, TimeSpan rateWindow)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!MetricNamePattern().IsMatch(query.Metric))
        {
            throw new ArgumentException($"'{query.Metric}' is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).", nameof(query));
        }

        if (query.Step <= TimeSpan.Zero || query.End < query.Start)
        {
            throw new ArgumentException("The step must be positive and the end not before the start.", nameof(query));
        }

        if ((query.End - query.Start) / query.Step > MaxPoints)
        {
            throw new ArgumentException($"At most {MaxPoints} points per series; use a larger step.", nameof(query));
        }

        var selector = $"{query.Metric}{MonitoringNames.Selector(instanceId)}";
        if (!query.Rate)
        {
            return selector;
        }

        var window = (long)Math.Ceiling(Math.Max(rateWindow.TotalSeconds, query.Step.TotalSeconds));
        return $"rate({selector}[{window.ToString(CultureInfo.InvariantCulture)}s])";
    }

    /// <summary>A Prometheus duration such as <c>5m</c> or <c>1h30m</c> as a <see cref="TimeSpan"/>.</summary>
    public static TimeSpan ParseDuration(string text)
    {
        if (!MonitoringFiles.IsDuration(text))
        {
            throw new FormatException($"'{text}' is not a Prometheus duration.");
        }

        var total = TimeSpan.Zero;
        foreach (Match part in DurationPartPattern().Matches(text))
        {
            var n = long.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            total += part.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                "d" => TimeSpan.FromDays(n),
                "w" => TimeSpan.FromDays(7 * n),
                _ => TimeSpan.FromDays(365 * n),
            };
        }

        return total;
    }

    private async Task ApplyAsync(InstanceContext instance, bool requireExisting, CancellationToken ct)
    {
        var spec = MonitoringSpec.From(instance);
        var backend = instance.Backend;
        var configDir = ConfigDir(backend);
        var alertFor = Duration(backend, AlertForSetting, DefaultAlertFor);
        var rateWindow = Duration(backend, RateWindowSetting, DefaultRateWindow);
        var name = MonitoringNames.Instance(instance.InstanceId);
        using var api = Api(backend);

        using var _ = await ConfigDirLock.AcquireAsync(configDir, LockTimeout, ct);
        if (requireExisting)
        {
            RequireProvisioned(instance);
        }

        foreach (var sub in new[] { "targets", "rules", "routes" })
        {
            Directory.CreateDirectory(Path.Combine(configDir, sub));
        }

        instance.Progress.Report($"Writing the alert rules of {name} ({(spec.Alerts.Count == 0 ? "none" : string.Join(", ", spec.Alerts))})");
        var ruleFile = MonitoringNames.RuleFile(configDir, instance.InstanceId);
        var rulesChanged = await MonitoringFiles.WriteIfChangedAsync(ruleFile,
            MonitoringFiles.RuleFile(instance.InstanceId, spec, alertFor, rateWindow), ct);

        var routeFile = MonitoringNames.RouteFile(configDir, instance.InstanceId);
        if (spec.AlertWebhook is { } webhook)
        {
            instance.Progress.Report($"Routing the alerts of {name} to its webhook on {webhook.Host}");
            await MonitoringFiles.WriteIfChangedAsync(routeFile, MonitoringFiles.RouteFragment(instance.InstanceId, webhook), ct);
        }
        else
        {
            MonitoringFiles.Delete(routeFile);
        }

        await RenderAlertmanagerAsync(configDir, api, ct);
        await SyncRulesAsync(api, ruleFile, name, rulesChanged, ct);

        // The target file last: its presence means the instance is complete. No reload follows it (file_sd reads it).
        instance.Progress.Report($"Scraping {spec.Targets.Count.ToString(CultureInfo.InvariantCulture)} targets for {name}" +
            (spec.ScrapeIntervalSeconds is { } s ? $" every {s.ToString(CultureInfo.InvariantCulture)} s" : ""));
        await MonitoringFiles.WriteAtomicAsync(MonitoringNames.TargetFile(configDir, instance.InstanceId), MonitoringFiles.TargetFile(spec), ct);

        _logger.LogInformation("Applied monitoring instance {Instance} on {Backend}: {Targets} targets, alerts {Alerts}",
            name, backend, spec.Targets.Count, string.Join(' ', spec.Alerts));
    }

    /// <summary>
    /// Renders alertmanager.yml from the base and all fragments and reloads Alertmanager when the file changed or is
    /// newer than Alertmanager's last successful reload (a crash came between writing and reloading).
    /// </summary>
    /// <remarks>
    /// Never reload needlessly: each reload restarts Alertmanager's dispatcher, whose alert groups then wait
    /// group_wait again before notifying, so frequent reloads would delay every team's notifications.
    /// </remarks>
    private static async Task RenderAlertmanagerAsync(string configDir, PrometheusApi api, CancellationToken ct)
    {
        var basePath = Path.Combine(configDir, MonitoringFiles.AlertmanagerBaseFile);
        if (!File.Exists(basePath))
        {
            throw new InvalidOperationException($"{basePath} is missing; the backend's operator provides the Alertmanager base configuration.");
        }

        var fragments = new List<(string, string)>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(configDir, "routes"), "mon-*.json"))
        {
            fragments.Add((Path.GetFileName(file), await File.ReadAllTextAsync(file, ct)));
        }

        var config = MonitoringFiles.AlertmanagerConfig(await File.ReadAllTextAsync(basePath, ct), fragments);
        var path = Path.Combine(configDir, MonitoringFiles.AlertmanagerFile);
        var changed = await MonitoringFiles.WriteIfChangedAsync(path, config, ct);
        if (changed || await api.AlertmanagerLastReloadAsync(ct) is not { } loaded || File.GetLastWriteTimeUtc(path) >= loaded.UtcDateTime)
        {
            await api.ReloadAlertmanagerAsync(ct);
        }
    }

    /// <summary>
    /// Reloads Prometheus when the instance's rule file changed, or when what Prometheus has loaded disagrees with
    /// the files (a crash came between writing and reloading, or the last reload failed).
    /// </summary>
    /// <remarks>
    /// Never reload needlessly: Prometheus 2.42 rebuilds its Alertmanager list on every reload and drops the alerts it
    /// sends until file discovery refills it (up to 5 s); a dropped firing alert is sent again only after
    /// <c>--rules.alert.resend-delay</c> (1 min by default), for every team.
    /// </remarks>
    private static async Task SyncRulesAsync(PrometheusApi api, string ruleFile, string group, bool changed, CancellationToken ct)
    {
        if (!changed)
        {
            var (succeeded, loadedAt) = await api.RuntimeInfoAsync(ct);
            var exists = File.Exists(ruleFile);
            var loaded = (await api.RuleGroupsAsync(ct)).Contains(group);
            changed = !succeeded || exists != loaded || (exists && File.GetLastWriteTimeUtc(ruleFile) >= loadedAt.UtcDateTime);
        }

        if (changed)
        {
            await api.ReloadPrometheusAsync(ct);
        }
    }

    private static async Task WaitForTargetsGoneAsync(PrometheusApi api, string name, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (await api.ActiveTargetsAsync(name, ct) is { Count: > 0 } left)
        {
            if (clock.Elapsed > TargetRemovalTimeout)
            {
                throw new TimeoutException(
                    $"Prometheus still scrapes {string.Join(", ", left.Select(t => t.Url))} of {name} " +
                    $"{TargetRemovalTimeout.TotalSeconds:0} s after its target file was emptied.");
            }

            await Task.Delay(PollInterval, ct);
        }
    }

    private static void RequireProvisioned(InstanceContext instance)
    {
        if (!File.Exists(MonitoringNames.TargetFile(ConfigDir(instance.Backend), instance.InstanceId)))
        {
            throw new InvalidOperationException(
                $"{MonitoringNames.Instance(instance.InstanceId)} is not provisioned on {instance.Backend}; provision the instance first.");
        }
    }

    /// <summary>The backend's config directory, absolute and without a trailing slash.</summary>
    internal static string ConfigDir(BackendEndpoint backend)
    {
        var value = backend.Setting(ConfigDirSetting)
            ?? throw new InvalidOperationException($"Backend {backend} has no {ConfigDirSetting} setting.");
        if (!Path.IsPathFullyQualified(value))
        {
            throw new InvalidOperationException($"The {ConfigDirSetting} setting of backend {backend} must be an absolute path.");
        }

        var dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(value));
        if (!Directory.Exists(dir))
        {
            throw new InvalidOperationException(
                $"The {ConfigDirSetting} {dir} of backend {backend} does not exist here; the driver must run on the servers' host.");
        }

        return dir;
    }

    private static string Duration(BackendEndpoint backend, string setting, string fallback)
    {
        var value = backend.Setting(setting) ?? fallback;
        return MonitoringFiles.IsDuration(value)
            ? value
            : throw new InvalidOperationException($"The {setting} setting of backend {backend} is not a Prometheus duration (e.g. 2m).");
    }

    private static TimeSpan RateWindow(BackendEndpoint backend) => ParseDuration(Duration(backend, RateWindowSetting, DefaultRateWindow));

    private static Uri BaseUrl(string value, string what, BackendEndpoint backend)
    {
        if (!Uri.TryCreate(value.TrimEnd('/') + "/", UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https")
            || uri.UserInfo.Length > 0)
        {
            throw new InvalidOperationException($"The {what} of backend {backend} must be an http(s) URL without credentials.");
        }

        return uri;
    }

    private PrometheusApi Api(BackendEndpoint backend)
    {
        var host = backend.Host.Contains(':') && !backend.Host.StartsWith('[') ? $"[{backend.Host}]" : backend.Host;
        var prometheus = BaseUrl($"http://{host}:{backend.Port.ToString(CultureInfo.InvariantCulture)}", "Host and Port", backend);
        var alertmanager = BaseUrl(
            backend.Setting(AlertmanagerUrlSetting)
                ?? throw new InvalidOperationException($"Backend {backend} has no {AlertmanagerUrlSetting} setting."),
            AlertmanagerUrlSetting, backend);
        return new PrometheusApi(_httpClientFactory, backend, prometheus, alertmanager);
    }

    [GeneratedRegex(@"\A[a-zA-Z_:][a-zA-Z0-9_:]*\z")]
    private static partial Regex MetricNamePattern();

    [GeneratedRegex("([0-9]+)(ms|s|m|h|d|w|y)")]
    private static partial Regex DurationPartPattern();
}
