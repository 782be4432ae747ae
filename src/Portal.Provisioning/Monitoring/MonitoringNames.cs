namespace Portal.Provisioning.Monitoring;

/// <summary>
/// Names of a monitoring instance on the Prometheus/Alertmanager backend. They derive from the instance id only
/// (never from user text) and use only <c>[a-z0-9-]</c>, so they need no escaping in file names, PromQL label
/// values or Alertmanager matchers.
/// </summary>
/// <remarks>
/// Every series scraped for an instance carries <see cref="LabelName"/> = <see cref="Instance"/>. Prometheus sets it
/// from the target file's name (relabelling in the scrape job), not from the file's content or the app, so the label
/// is what scopes every query, rule and route of the instance.
/// </remarks>
public static class MonitoringNames
{
    /// <summary>The label that marks an instance's series, alerts and routes.</summary>
    public const string LabelName = "portal_instance";

    /// <summary>The scrape job of all instances' targets (in <c>prometheus.yml</c>).</summary>
    public const string JobName = "portal-apps";

    /// <summary>The instance's name and label value, <c>mon-&lt;id&gt;</c>: its target, rule and route files and its
    /// rule group and Alertmanager receiver are named after it.</summary>
    public static string Instance(Guid instanceId) => $"mon-{instanceId:N}";

    /// <summary>The PromQL matcher of the instance's series, <c>portal_instance="mon-&lt;id&gt;"</c>.</summary>
    public static string Matcher(Guid instanceId) => $"{LabelName}=\"{Instance(instanceId)}\"";

    /// <summary>The selector of all the instance's series, <c>{portal_instance="mon-&lt;id&gt;"}</c>.</summary>
    public static string Selector(Guid instanceId) => $"{{{Matcher(instanceId)}}}";

    /// <summary>The file_sd target file, <c>targets/mon-&lt;id&gt;.json</c>.</summary>
    public static string TargetFile(string configDir, Guid instanceId) =>
        Path.Combine(configDir, "targets", Instance(instanceId) + ".json");

    /// <summary>The rule file, <c>rules/mon-&lt;id&gt;.yml</c> (JSON content: YAML reads it).</summary>
    public static string RuleFile(string configDir, Guid instanceId) =>
        Path.Combine(configDir, "rules", Instance(instanceId) + ".yml");

    /// <summary>The Alertmanager route fragment, <c>routes/mon-&lt;id&gt;.json</c>.</summary>
    public static string RouteFile(string configDir, Guid instanceId) =>
        Path.Combine(configDir, "routes", Instance(instanceId) + ".json");
}
