using System.Globalization;
using Portal.Application.Bindings;
using Portal.Application.Instances;
using Portal.Web.Components.Pages.Teams;

namespace Portal.Web.Tests;

public sealed class TeamBindingsTableTests : PortalBunitContext
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    private static TeamBindingView Row(string app, int generation, DateTimeOffset? nextRotation, DateTimeOffset? certificateExpires, int? retiring = null)
    {
        var instanceId = Guid.NewGuid();
        return new TeamBindingView(instanceId, "orders-db", "PostgreSQL database", new BindingView(
            Guid.NewGuid(), instanceId, app, "Ready", null, Now.AddDays(-40), certificateExpires is not null, generation, retiring,
            retiring is null ? null : Now.AddHours(1), certificateExpires, generation > 0 ? Now.AddDays(-10) : null, nextRotation));
    }

    [Fact]
    public void Render_Bindings_LinkEachToItsPage_AndShowGenerationRotationAndCertificate()
    {
        var scheduled = Row("billing", 2, Now.AddDays(80), null, retiring: 1);
        var manual = Row("reports", 0, null, Now.AddHours(5));

        var cut = Render<TeamBindingsTable>(ps => ps.Add(p => p.Bindings, [scheduled, manual]).Add(p => p.Now, Now));

        var links = cut.FindAll("[data-testid=team-binding-link]");
        Assert.Equal(["billing", "reports"], links.Select(l => l.TextContent.Trim()));
        Assert.Equal($"/instances/{scheduled.InstanceId}/bindings/{scheduled.Binding.Id}", links[0].GetAttribute("href"));
        var generations = cut.FindAll("[data-testid=team-binding-generation]");
        Assert.StartsWith("2", generations[0].TextContent.Trim());
        Assert.Contains("1 until", generations[0].TextContent);
        var next = cut.FindAll("[data-testid=team-binding-next-rotation]").Select(e => e.TextContent.Trim()).ToList();
        Assert.Equal([Now.AddDays(80).ToLocalTime().ToString("d", CultureInfo.CurrentCulture), "by hand"], next);
        var certificates = cut.FindAll("[data-testid=team-binding-certificate]");
        Assert.Contains("none", certificates[0].TextContent);
        // Less than a day left: flagged.
        Assert.Contains("mud-warning-text", certificates[1].InnerHtml);
    }

    [Fact]
    public void Render_NoBindings_SaysHowToGetOne()
    {
        var cut = Render<TeamBindingsTable>(ps => ps.Add(p => p.Bindings, []).Add(p => p.Now, Now));

        Assert.Contains("No bindings yet", cut.Markup);
    }
}
