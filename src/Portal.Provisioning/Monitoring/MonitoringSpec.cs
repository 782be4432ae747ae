using System.Globalization;

namespace Portal.Provisioning.Monitoring;

/// <summary>One URL Prometheus scrapes: scheme, <c>host:port</c> and metrics path.</summary>
public sealed record ScrapeEndpoint(string Scheme, string Address, string Path)
{
    /// <summary>The URL as Prometheus shows it (<c>scrapeUrl</c> of <c>/api/v1/targets</c>).</summary>
    public string Url => $"{Scheme}://{Address}{Path}";
}

/// <summary>
/// What a monitoring instance should look like on the backend, read from its parameters and plan limits:
/// the targets, the alert templates and where alerts go.
/// </summary>
/// <param name="Targets">The URLs to scrape, in the order given.</param>
/// <param name="AlertWebhook">Where Alertmanager posts the instance's alerts; null: no route (alerts stay in Prometheus).</param>
/// <param name="Alerts">The alert templates, from <see cref="MonitoringSpec.AlertTemplates"/>.</param>
/// <param name="ScrapeIntervalSeconds">The plan's scrape interval; null: the server's default.</param>
public sealed record MonitoringSpec(
    IReadOnlyList<ScrapeEndpoint> Targets,
    Uri? AlertWebhook,
    IReadOnlyList<string> Alerts,
    int? ScrapeIntervalSeconds)
{
    /// <summary>Instance parameter: the app's metrics endpoints.</summary>
    public const string TargetsParameter = "targets";

    /// <summary>Instance parameter: the URL alerts are posted to.</summary>
    public const string AlertWebhookParameter = "alertWebhook";

    /// <summary>Instance parameter: which alert templates to use.</summary>
    public const string AlertsParameter = "alerts";

    /// <summary>Plan limit: the most scrape targets.</summary>
    public const string MaxTargetsLimit = "maxTargets";

    /// <summary>Plan limit: seconds between scrapes of the instance's targets.</summary>
    public const string ScrapeIntervalLimit = "scrapeIntervalSeconds";

    /// <summary>Alert template: a target Prometheus cannot scrape.</summary>
    public const string TargetDown = "targetDown";

    /// <summary>Alert template: more than 5 % of HTTP requests answered 5xx.</summary>
    public const string ErrorRate = "errorRate";

    /// <summary>The alert templates, in rule-file order.</summary>
    public static readonly IReadOnlyList<string> AlertTemplates = [TargetDown, ErrorRate];

    /// <summary>
    /// The most targets of one instance, whatever the plan says. With <see cref="MaxPathGroups"/> it bounds the
    /// target file and what one team can make Prometheus do.
    /// </summary>
    public const int MaxTargets = 50;

    /// <summary>
    /// The most distinct scheme/metrics-path pairs among an instance's targets: each pair is one target group, and the
    /// target file always holds exactly this many groups (the unused ones empty). See <see cref="MonitoringFiles"/>.
    /// </summary>
    public const int MaxPathGroups = 8;

    private const int MaxEntryLength = 300;
    private const int MaxScrapeIntervalSeconds = 3600;

    /// <summary>Whether the instance's alerts use the template.</summary>
    public bool Uses(string template) => Alerts.Contains(template, StringComparer.Ordinal);

    /// <summary>The targets grouped by scheme and metrics path, in first-seen order (one file_sd group each).</summary>
    public IReadOnlyList<IGrouping<(string Scheme, string Path), ScrapeEndpoint>> Groups =>
        Targets.GroupBy(t => (t.Scheme, t.Path)).ToList();

    /// <summary>Checks instance parameters; an error message per bad parameter (empty when all is well).</summary>
    public static IReadOnlyDictionary<string, string> Validate(IReadOnlyDictionary<string, string> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        if (ParseTargets(parameters.GetValueOrDefault(TargetsParameter), out _) is { } targetsError)
        {
            errors[TargetsParameter] = targetsError;
        }

        if (ParseWebhook(parameters.GetValueOrDefault(AlertWebhookParameter), out _) is { } webhookError)
        {
            errors[AlertWebhookParameter] = webhookError;
        }

        if (ParseAlerts(parameters.GetValueOrDefault(AlertsParameter), out _) is { } alertsError)
        {
            errors[AlertsParameter] = alertsError;
        }

        return errors;
    }

    /// <summary>
    /// Reads an instance's parameters and plan limits. Throws <see cref="ArgumentException"/> for bad parameters or
    /// limits and <see cref="InvalidOperationException"/> when the targets exceed the plan's <c>maxTargets</c>.
    /// </summary>
    public static MonitoringSpec From(InstanceContext instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var errors = Validate(instance.Parameters);
        if (errors.Count > 0)
        {
            throw new ArgumentException(
                "Invalid monitoring parameters: " + string.Join("; ", errors.Select(e => $"{e.Key}: {e.Value}")),
                nameof(instance));
        }

        ParseTargets(instance.Parameters.GetValueOrDefault(TargetsParameter), out var targets);
        ParseWebhook(instance.Parameters.GetValueOrDefault(AlertWebhookParameter), out var webhook);
        ParseAlerts(instance.Parameters.GetValueOrDefault(AlertsParameter), out var alerts);

        var maxTargets = Limit(instance.Limits, MaxTargetsLimit, 1, MaxTargets);
        if (maxTargets is { } max && targets.Count > max)
        {
            throw new InvalidOperationException(
                $"The instance has {targets.Count.ToString(CultureInfo.InvariantCulture)} targets; its plan allows " +
                $"{max.ToString(CultureInfo.InvariantCulture)} ({MaxTargetsLimit}).");
        }

        var interval = Limit(instance.Limits, ScrapeIntervalLimit, 1, MaxScrapeIntervalSeconds);
        return new MonitoringSpec(targets, webhook, alerts, interval);
    }

    /// <summary>A plan limit's value, null when absent or -1 (no limit); out of range throws.</summary>
    private static int? Limit(IReadOnlyDictionary<string, int> limits, string name, int min, int max)
    {
        if (!limits.TryGetValue(name, out var value) || value == -1)
        {
            return null;
        }

        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(nameof(limits), value,
                $"Plan limit {name} must be -1 (none) or between {min.ToString(CultureInfo.InvariantCulture)} and " +
                $"{max.ToString(CultureInfo.InvariantCulture)}.");
        }

        return value;
    }

    /// <summary>
    /// Reads the space- or comma-separated targets: <c>host:port</c> (http, path <c>/metrics</c>) or an
    /// <c>http(s)://host[:port][/path]</c> URL (path <c>/metrics</c> when none is given). Returns an error or null.
    /// </summary>
    internal static string? ParseTargets(string? text, out List<ScrapeEndpoint> targets)
    {
        targets = [];
        var entries = SplitTargets(text);
        if (entries.Length == 0)
        {
            return "Give at least one metrics endpoint: host:port or an http(s) URL.";
        }

        if (entries.Length > MaxTargets)
        {
            return $"At most {MaxTargets.ToString(CultureInfo.InvariantCulture)} targets.";
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (ParseTarget(entry, out var target) is { } error)
            {
                return $"'{Shorten(entry)}': {error}";
            }

            if (!seen.Add(target.Url))
            {
                return $"'{Shorten(entry)}' is given twice.";
            }

            targets.Add(target);
        }

        if (targets.Select(t => (t.Scheme, t.Path)).Distinct().Count() > MaxPathGroups)
        {
            return $"At most {MaxPathGroups.ToString(CultureInfo.InvariantCulture)} different scheme and path combinations.";
        }

        return null;
    }

    /// <summary>The targets and the alert webhook as written, for the egress policy: Prometheus and Alertmanager connect to them.</summary>
    public static IReadOnlyList<ParameterUrl> ParameterUrls(IReadOnlyDictionary<string, string> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var urls = TargetUrls(parameters.GetValueOrDefault(TargetsParameter))
            .Select(url => new ParameterUrl(TargetsParameter, url, Connects: true)).ToList();
        if (parameters.GetValueOrDefault(AlertWebhookParameter) is { } webhook && !string.IsNullOrWhiteSpace(webhook))
        {
            urls.Add(new ParameterUrl(AlertWebhookParameter, webhook.Trim(), Connects: true));
        }

        return urls;
    }

    /// <summary>The targets as URLs, as written: <c>host:port</c> with <c>http://</c> in front (for the egress policy).</summary>
    public static IEnumerable<string> TargetUrls(string? text) =>
        SplitTargets(text).Select(entry => entry.Contains("://", StringComparison.Ordinal) ? entry : "http://" + entry);

    private static string[] SplitTargets(string? text) =>
        (text ?? "").Split([' ', ',', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);

    private static string? ParseTarget(string entry, out ScrapeEndpoint target)
    {
        target = null!;
        if (entry.Length > MaxEntryLength)
        {
            return "too long.";
        }

        var hasScheme = entry.Contains("://", StringComparison.Ordinal);
        if (!Uri.TryCreate(hasScheme ? entry : "http://" + entry, UriKind.Absolute, out var uri))
        {
            return "not host:port or an http(s) URL.";
        }

        if (uri.Scheme is not ("http" or "https"))
        {
            return "only http and https can be scraped.";
        }

        if (uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            return "user info, query and fragment are not supported.";
        }

        if (uri.HostNameType is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6) || uri.Host.Length == 0)
        {
            return "the host is not a DNS name or an IP address.";
        }

        if (!hasScheme && ((uri.IsDefaultPort && !entry.EndsWith(":80", StringComparison.Ordinal)) || uri.AbsolutePath != "/"))
        {
            return "without a scheme, give exactly host:port.";
        }

        var path = uri.AbsolutePath == "/" ? "/metrics" : uri.AbsolutePath;
        var address = $"{uri.Host}:{uri.Port.ToString(CultureInfo.InvariantCulture)}";
        target = new ScrapeEndpoint(uri.Scheme, address, path);
        return null;
    }

    internal static string? ParseWebhook(string? text, out Uri? webhook)
    {
        webhook = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        text = text.Trim();
        if (text.Length > MaxEntryLength
            || !Uri.TryCreate(text, UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https")
            || uri.Host.Length == 0)
        {
            return "Give an absolute http(s) URL.";
        }

        // Parameters are shown on the instance page, so no secrets in them.
        if (uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
        {
            return "User info and fragments are not supported.";
        }

        webhook = uri;
        return null;
    }

    internal static string? ParseAlerts(string? text, out List<string> alerts)
    {
        alerts = [];
        var entries = (text ?? "").Split([' ', ',', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);
        if (entries.Length == 0)
        {
            alerts.AddRange(AlertTemplates);
            return null;
        }

        if (entries is ["none"])
        {
            return null;
        }

        foreach (var entry in entries)
        {
            if (!AlertTemplates.Contains(entry, StringComparer.Ordinal))
            {
                return $"'{Shorten(entry)}' is no alert template; use {string.Join(", ", AlertTemplates)} or none.";
            }
        }

        // Template order, no duplicates: the rule file does not depend on how the requester wrote the list.
        alerts.AddRange(AlertTemplates.Where(t => entries.Contains(t, StringComparer.Ordinal)));
        return null;
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "…";
}
