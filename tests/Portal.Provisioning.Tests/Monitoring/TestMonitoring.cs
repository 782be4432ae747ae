using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Portal.Provisioning.Monitoring;

namespace Portal.Provisioning.Tests.Monitoring;

/// <summary>The real Prometheus and Alertmanager the monitoring tests run against, seen as their admin.</summary>
internal static class TestMonitoring
{
    public const string EnvironmentVariable = "PORTAL_TEST_MONITORING";

    /// <summary>Long enough for file_sd (updates every 5 s), a scrape, the alert's <c>for</c> and group_wait.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static readonly HttpClient SharedHttp = new() { Timeout = TimeSpan.FromSeconds(30) };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The admin endpoint from <see cref="EnvironmentVariable"/>; fails the test when it is missing.</summary>
    public static BackendEndpoint Endpoint => TestBackends.Require("monitoring", EnvironmentVariable, "prometheus prometheus-alertmanager");

    public static string ConfigDir => Endpoint.Setting(MonitoringDriver.ConfigDirSetting)!;

    public static string PrometheusUrl => $"http://{Endpoint.Host}:{Endpoint.Port.ToString(CultureInfo.InvariantCulture)}";

    public static string AlertmanagerUrl => Endpoint.Setting(MonitoringDriver.AlertmanagerUrlSetting)!.TrimEnd('/');

    /// <summary>A Prometheus API call's <c>data</c>, as the admin.</summary>
    public static async Task<JsonElement> PrometheusAsync(string pathAndQuery)
    {
        var body = await GetAsync($"{PrometheusUrl}/{pathAndQuery}");
        return body.GetProperty("data");
    }

    /// <summary>The series an instant PromQL query returns, as the admin (no scoping).</summary>
    public static async Task<List<JsonElement>> QueryAsync(string promql)
    {
        var data = await PrometheusAsync($"api/v1/query?query={Uri.EscapeDataString(promql)}");
        return [.. data.GetProperty("result").EnumerateArray()];
    }

    /// <summary>The active targets Prometheus has for the instance (by its label).</summary>
    public static async Task<List<JsonElement>> ActiveTargetsAsync(Guid instanceId)
    {
        var data = await PrometheusAsync("api/v1/targets?state=active");
        return [.. data.GetProperty("activeTargets").EnumerateArray()
            .Where(t => t.GetProperty("labels").TryGetProperty(MonitoringNames.LabelName, out var v)
                && v.GetString() == MonitoringNames.Instance(instanceId))];
    }

    public static async Task<List<string>> RuleGroupsAsync()
    {
        var data = await PrometheusAsync("api/v1/rules");
        return [.. data.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("name").GetString()!)];
    }

    /// <summary>Whether Prometheus's last config reload succeeded.</summary>
    public static async Task<bool> PrometheusReloadSucceededAsync() =>
        (await PrometheusAsync("api/v1/status/runtimeinfo")).GetProperty("reloadConfigSuccess").GetBoolean();

    /// <summary>The alerts Alertmanager holds for the instance (active, silenced or inhibited).</summary>
    public static async Task<List<JsonElement>> AlertmanagerAlertsAsync(Guid instanceId)
    {
        var body = await GetAsync($"{AlertmanagerUrl}/api/v2/alerts?filter={Uri.EscapeDataString(MonitoringNames.Matcher(instanceId))}");
        return [.. body.EnumerateArray()];
    }

    /// <summary>The configuration Alertmanager runs with (its text as loaded).</summary>
    public static async Task<string> AlertmanagerConfigAsync()
    {
        var body = await GetAsync($"{AlertmanagerUrl}/api/v2/status");
        return body.GetProperty("config").GetProperty("original").GetString()!;
    }

    /// <summary>The alertmanager.yml the driver rendered.</summary>
    public static string AlertmanagerFile() => File.ReadAllText(Path.Combine(ConfigDir, MonitoringFiles.AlertmanagerFile));

    /// <summary>Files anywhere under the config directory whose name contains the instance's name.</summary>
    public static List<string> FilesOf(Guid instanceId) =>
        [.. Directory.EnumerateFiles(ConfigDir, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f).Contains(MonitoringNames.Instance(instanceId), StringComparison.Ordinal))];

    /// <summary>Retries <paramref name="condition"/> until it holds; fails the test after <see cref="Patience"/>.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Patience;
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > limit)
            {
                Assert.Fail($"Not within {limit.TotalSeconds} s: {what}");
            }

            await Task.Delay(250, Ct);
        }
    }

    /// <summary>Reloads Prometheus (<paramref name="alertmanager"/>: Alertmanager) as its admin, over its lifecycle API.</summary>
    public static async Task ReloadAsync(bool alertmanager = false)
    {
        using var response = await SendAsync(HttpMethod.Post, $"{(alertmanager ? AlertmanagerUrl : PrometheusUrl)}/-/reload");
        response.EnsureSuccessStatusCode();
    }

    private static async Task<JsonElement> GetAsync(string url)
    {
        using var response = await SendAsync(HttpMethod.Get, url);
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return document.RootElement.Clone();
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url)
    {
        var backend = Endpoint;
        using var request = new HttpRequestMessage(method, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{backend.AdminUser}:{backend.AdminPassword}")));
        return await SharedHttp.SendAsync(request, Ct);
    }
}
