using System.Text.RegularExpressions;
using Portal.Provisioning.Monitoring;

namespace Portal.Provisioning.Tests.Monitoring;

public sealed partial class MonitoringNamesTests
{
    private static readonly Guid _knownId = Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E");

    // Nothing to escape in file names, PromQL label values, Alertmanager matchers and the relabel regex of prometheus.yml.
    [GeneratedRegex("^mon-[0-9a-f]{32}$")]
    private static partial Regex RelabelRegex();

    [Fact]
    public void Instance_KnownId_IsMonDashLowercaseHex()
    {
        Assert.Equal("mon-0f8fad5bd9cb469fa16570867728950e", MonitoringNames.Instance(_knownId));
        Assert.Matches(RelabelRegex(), MonitoringNames.Instance(Guid.NewGuid()));
    }

    [Fact]
    public void Selector_KnownId_MatchesInstanceLabelOnly()
    {
        Assert.Equal("portal_instance=\"mon-0f8fad5bd9cb469fa16570867728950e\"", MonitoringNames.Matcher(_knownId));
        Assert.Equal("{portal_instance=\"mon-0f8fad5bd9cb469fa16570867728950e\"}", MonitoringNames.Selector(_knownId));
    }

    [Fact]
    public void Files_KnownId_NamedAfterInstanceInTheirFolders()
    {
        Assert.Equal("/c/targets/mon-0f8fad5bd9cb469fa16570867728950e.json", MonitoringNames.TargetFile("/c", _knownId));
        Assert.Equal("/c/rules/mon-0f8fad5bd9cb469fa16570867728950e.yml", MonitoringNames.RuleFile("/c", _knownId));
        Assert.Equal("/c/routes/mon-0f8fad5bd9cb469fa16570867728950e.json", MonitoringNames.RouteFile("/c", _knownId));
    }

    [Fact]
    public void Instance_DifferentIds_Differ()
    {
        Assert.NotEqual(MonitoringNames.Instance(Guid.NewGuid()), MonitoringNames.Instance(Guid.NewGuid()));
    }
}
