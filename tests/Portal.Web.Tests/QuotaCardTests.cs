using Portal.Application.Quotas;
using Portal.Domain.Quotas;
using Portal.Web.Components.Pages.Teams;

namespace Portal.Web.Tests;

public sealed class QuotaCardTests : PortalBunitContext
{
    private static TeamQuotaView Quota(int instances, int maxInstances, decimal cost, decimal maxCost) => new(
        Guid.NewGuid(),
        new QuotaUse(maxInstances, instances, maxCost, cost,
            new Dictionary<string, int> { ["postgresql"] = 4 }, new Dictionary<string, int> { ["postgresql"] = instances }),
        IsDefault: false);

    [Fact]
    public void Render_WithUse_ShowsUsedOfLimitForEveryQuota()
    {
        var cut = Render<QuotaCard>(ps => ps.Add(p => p.Quota, Quota(3, 10, 45m, 500m)));

        var texts = cut.FindAll("[data-testid=quota-text]").Select(e => e.TextContent.Trim()).ToList();
        Assert.Equal(["3 of 10", "45.00 of 500.00", "3 of 4"], texts);
    }

    [Fact]
    public void Render_AtTheLimit_ColoursTheBarRed()
    {
        var cut = Render<QuotaCard>(ps => ps.Add(p => p.Quota, Quota(10, 10, 100m, 500m)));

        var bars = cut.FindAll("[data-testid=quota-bar] .mud-progress-linear");
        Assert.Contains("mud-progress-linear-color-error", bars[0].ClassName);
        Assert.Contains("mud-progress-linear-color-success", bars[1].ClassName);
    }
}
