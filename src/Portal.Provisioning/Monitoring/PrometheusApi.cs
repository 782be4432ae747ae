using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Portal.Provisioning.Http;
using static Portal.Provisioning.Http.JsonText;

namespace Portal.Provisioning.Monitoring;

/// <summary>
/// The calls <see cref="MonitoringDriver"/> makes to Prometheus's and Alertmanager's HTTP APIs, as the backend's
/// admin (basic auth, which both accept; none when the password is empty). Errors name the server, call and status,
/// never credentials.
/// </summary>
internal sealed partial class PrometheusApi : IDisposable
{
    private readonly BackendHttpClient _prometheus;
    private readonly BackendHttpClient _alertmanager;

    public PrometheusApi(IHttpClientFactory factory, BackendEndpoint backend, Uri prometheusUrl, Uri alertmanagerUrl)
    {
        var api = new BackendApi("Prometheus", MonitoringDriver.RequestTimeout)
        {
            SignIn = backend.AdminPassword.Length == 0 ? null : r => r.Headers.Authorization = BackendHttpClient.BasicAuth(backend),
            ErrorReason = BackendApi.JsonField("error"),
        };
        _prometheus = BackendHttpClient.Create(factory, MonitoringDriver.HttpClientName, backend, prometheusUrl, api);
        _alertmanager = BackendHttpClient.Create(
            factory, MonitoringDriver.HttpClientName, backend, alertmanagerUrl, api with { Name = "Alertmanager" });
    }

    public void Dispose()
    {
        _prometheus.Dispose();
        _alertmanager.Dispose();
    }

    public Task<bool> PrometheusReadyAsync(CancellationToken ct) => ReadyAsync(_prometheus, ct);

    public Task<bool> AlertmanagerReadyAsync(CancellationToken ct) => ReadyAsync(_alertmanager, ct);

    public Task ReloadPrometheusAsync(CancellationToken ct) => PostAsync(_prometheus, "-/reload", null, ct);

    /// <summary>Whether Prometheus's last reload succeeded, and when it last loaded its config.</summary>
    public async Task<(bool Succeeded, DateTimeOffset LoadedAt)> RuntimeInfoAsync(CancellationToken ct)
    {
        var data = await PrometheusGetAsync("api/v1/status/runtimeinfo", ct);
        return (data.TryGetProperty("reloadConfigSuccess", out var ok) && ok.ValueKind == JsonValueKind.True,
            DateTimeOffset.Parse(Text(data, "lastConfigTime"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));
    }

    public Task ReloadAlertmanagerAsync(CancellationToken ct) => PostAsync(_alertmanager, "-/reload", null, ct);

    /// <summary>The instance's active targets as Prometheus sees them.</summary>
    public async Task<List<ScrapeTarget>> ActiveTargetsAsync(string instance, CancellationToken ct)
    {
        var data = await PrometheusGetAsync("api/v1/targets?state=active", ct);
        var result = new List<ScrapeTarget>();
        foreach (var target in data.GetProperty("activeTargets").EnumerateArray())
        {
            if (!target.TryGetProperty("labels", out var labels) || Text(labels, MonitoringNames.LabelName) != instance)
            {
                continue;
            }

            var lastError = Text(target, "lastError");
            DateTimeOffset? lastScrape = DateTimeOffset.TryParse(Text(target, "lastScrape"), CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal, out var at) && at.Year > 1 ? at : null;
            result.Add(new ScrapeTarget(Text(target, "scrapeUrl"), Text(target, "health") is { Length: > 0 } h ? h : "unknown",
                lastError.Length > 0 ? lastError : null, lastScrape));
        }

        return result;
    }

    public async Task<HashSet<string>> RuleGroupsAsync(CancellationToken ct)
    {
        var data = await PrometheusGetAsync("api/v1/rules", ct);
        return data.GetProperty("groups").EnumerateArray().Select(g => Text(g, "name")).ToHashSet(StringComparer.Ordinal);
    }

    public async Task<List<MetricSeries>> QueryRangeAsync(
        string query, DateTimeOffset start, DateTimeOffset end, TimeSpan step, CancellationToken ct)
    {
        var data = await PrometheusPostFormAsync("api/v1/query_range", [
            new("query", query),
            new("start", UnixSeconds(start)),
            new("end", UnixSeconds(end)),
            new("step", step.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)),
        ], ct);
        var result = new List<MetricSeries>();
        foreach (var series in data.GetProperty("result").EnumerateArray())
        {
            var labels = series.GetProperty("metric").EnumerateObject()
                .ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);
            var points = series.GetProperty("values").EnumerateArray()
                .Select(v => new MetricPoint(
                    DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(v[0].GetDouble() * 1000)),
                    SampleValue(v[1].GetString())))
                .ToList();
            result.Add(new MetricSeries(labels, points));
        }

        return result;
    }

    public async Task<List<string>> LabelValuesAsync(string label, string match, CancellationToken ct)
    {
        var data = await PrometheusGetAsync(
            $"api/v1/label/{Uri.EscapeDataString(label)}/values?match[]={Uri.EscapeDataString(match)}", ct);
        return data.EnumerateArray().Select(v => v.GetString() ?? "").Order(StringComparer.Ordinal).ToList();
    }

    public async Task DeleteSeriesAsync(string match, CancellationToken ct) =>
        await PostAsync(_prometheus, "api/v1/admin/tsdb/delete_series", new FormUrlEncodedContent([new("match[]", match)]), ct);

    public async Task<string> GlobalScrapeIntervalAsync(CancellationToken ct)
    {
        var match = GlobalScrapeIntervalPattern().Match(await PrometheusConfigAsync(ct));
        return match.Success ? match.Groups[1].Value : "1m";
    }

    public async Task<string> PrometheusConfigAsync(CancellationToken ct) =>
        Text(await PrometheusGetAsync("api/v1/status/config", ct), "yaml");

    public async Task<string> PrometheusVersionAsync(CancellationToken ct) =>
        Text(await PrometheusGetAsync("api/v1/status/buildinfo", ct), "version");

    public async Task<Dictionary<string, string>> FlagsAsync(CancellationToken ct) =>
        (await PrometheusGetAsync("api/v1/status/flags", ct)).EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);

    public async Task<string> AlertmanagerVersionAsync(CancellationToken ct)
    {
        var status = (await GetAsync(_alertmanager, "api/v2/status", ct)).Json();
        return status.TryGetProperty("versionInfo", out var info) ? Text(info, "version") : "";
    }

    /// <summary>The configuration Alertmanager runs with, as it reports it (the text it loaded).</summary>
    public async Task<string> AlertmanagerLoadedConfigAsync(CancellationToken ct)
    {
        var status = (await GetAsync(_alertmanager, "api/v2/status", ct)).Json();
        return status.TryGetProperty("config", out var config) ? Text(config, "original") : "";
    }

    /// <summary>When Alertmanager last loaded its config successfully; null when its last reload failed.</summary>
    public async Task<DateTimeOffset?> AlertmanagerLastReloadAsync(CancellationToken ct)
    {
        var body = (await GetAsync(_alertmanager, "metrics", ct)).Body;
        double? Metric(string name) => body.Split('\n')
            .Select(line => line.Split(' '))
            .Where(parts => parts.Length == 2 && parts[0] == name)
            .Select(parts => (double?)double.Parse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture))
            .FirstOrDefault();
        return Metric("alertmanager_config_last_reload_successful") == 1
            && Metric("alertmanager_config_last_reload_success_timestamp_seconds") is { } seconds
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000))
            : null;
    }

    /// <summary>Ends every alert Alertmanager holds with the matcher now; returns how many there were.</summary>
    public async Task<int> ResolveAlertsAsync(string matcher, CancellationToken ct)
    {
        var body = (await GetAsync(_alertmanager, $"api/v2/alerts?filter={Uri.EscapeDataString(matcher)}", ct)).Body;
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        var ended = new JsonArray();
        foreach (var alert in (JsonNode.Parse(body) as JsonArray ?? []).OfType<JsonObject>())
        {
            // The same labels identify the same alert; endsAt now resolves it (and notifies the route's receiver).
            ended.Add(new JsonObject
            {
                ["labels"] = alert["labels"]?.DeepClone(),
                ["annotations"] = alert["annotations"]?.DeepClone(),
                ["startsAt"] = alert["startsAt"]?.DeepClone(),
                ["endsAt"] = now,
                ["generatorURL"] = alert["generatorURL"]?.DeepClone(),
            });
        }

        if (ended.Count > 0)
        {
            await PostAsync(_alertmanager, "api/v2/alerts", new StringContent(ended.ToJsonString(), Encoding.UTF8, "application/json"), ct);
        }

        return ended.Count;
    }

    private static async Task<bool> ReadyAsync(BackendHttpClient server, CancellationToken ct)
    {
        var response = await server.SendAsync(HttpMethod.Get, new Uri("-/ready", UriKind.Relative), null, ct);
        if (response.Status == HttpStatusCode.ServiceUnavailable)
        {
            return false;
        }

        response.EnsureSuccess();
        return true;
    }

    private static Task<BackendResponse> GetAsync(BackendHttpClient server, string path, CancellationToken ct) =>
        CallAsync(server, HttpMethod.Get, path, null, ct);

    private static Task PostAsync(BackendHttpClient server, string path, HttpContent? content, CancellationToken ct) =>
        CallAsync(server, HttpMethod.Post, path, content, ct);

    private static async Task<BackendResponse> CallAsync(
        BackendHttpClient server, HttpMethod method, string path, HttpContent? content, CancellationToken ct) =>
        (await server.SendAsync(method, new Uri(path, UriKind.Relative), content, ct)).EnsureSuccess();

    /// <summary>The <c>data</c> of a Prometheus API answer.</summary>
    private async Task<JsonElement> PrometheusGetAsync(string path, CancellationToken ct) =>
        (await GetAsync(_prometheus, path, ct)).Json().GetProperty("data");

    private async Task<JsonElement> PrometheusPostFormAsync(string path, KeyValuePair<string, string>[] form, CancellationToken ct) =>
        (await CallAsync(_prometheus, HttpMethod.Post, path, new FormUrlEncodedContent(form), ct)).Json().GetProperty("data");

    private static string UnixSeconds(DateTimeOffset at) =>
        (at.ToUnixTimeMilliseconds() / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);

    private static double SampleValue(string? text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" or null => double.NaN,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    [GeneratedRegex(@"^global:[ \t]*\r?\n(?:[ \t]+.*\r?\n)*?[ \t]+scrape_interval:[ \t]*(\S+)", RegexOptions.Multiline)]
    private static partial Regex GlobalScrapeIntervalPattern();
}
