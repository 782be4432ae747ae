using System.Text.RegularExpressions;
using Portal.Provisioning.Monitoring;

namespace Portal.Provisioning.Tests.Monitoring;

public sealed partial class MonitoringNamesTests
{
    private static readonly Guid KnownId = Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E");

    // Nothing to escape in file names, PromQL label values, Alertmanager matchers and the relabel regex of prometheus.yml.
    [GeneratedRegex("^mon-[0-9a-f]{32}$")]
    private static partial Regex RelabelRegex();

    [Fact]
    public void Instance_KnownId_IsMonDashLowercaseHex()
    {
        Assert.Equal("mon-0f8fad5bd9cb469fa16570867728950e", MonitoringNames.Instance(KnownId));
        Assert.Matches(RelabelRegex(), MonitoringNames.Instance(Guid.NewGuid()));
    }

    [Fact]
    public void Selector_KnownId_MatchesInstanceLabelOnly()
    {
        Assert.Equal("portal_instance=\"mon-0f8fad5bd9cb469fa16570867728950e\"", MonitoringNames.Matcher(KnownId));
        Assert.Equal("{portal_instance=\"mon-0f8fad5bd9cb469fa16570867728950e\"}", MonitoringNames.Selector(KnownId));
    }

    [Fact]
    public void Files_KnownId_NamedAfterInstanceInTheirFolders()
    {
        Assert.Equal("/c/targets/mon-0f8fad5bd9cb469fa16570867728950e.json", MonitoringNames.TargetFile("/c", KnownId));
        Assert.Equal("/c/rules/mon-0f8fad5bd9cb469fa16570867728950e.yml", MonitoringNames.RuleFile("/c", KnownId));
        Assert.Equal("/c/routes/mon-0f8fad5bd9cb469fa16570867728950e.json", MonitoringNames.RouteFile("/c", KnownId));
    }

    [Fact]
    public void Instance_DifferentIds_Differ()
    {
        Assert.NotEqual(MonitoringNames.Instance(Guid.NewGuid()), MonitoringNames.Instance(Guid.NewGuid()));
    }
}
