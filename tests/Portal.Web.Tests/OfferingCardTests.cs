using System.Globalization;
using AngleSharp.Dom;
using Portal.Application.Catalog;
using Portal.Provisioning;
using Portal.Application.Instances;
using Portal.Application.Teams;
using Portal.Web.Components.Pages.Catalog;

namespace Portal.Web.Tests;

public sealed class OfferingCardTests : PortalBunitContext
{
    private static readonly PlanView Small = new(Guid.NewGuid(), "small", "Small", "1 vCPU, 10 GB", 10m, new Dictionary<string, int> { ["storageGb"] = 10 });
    private static readonly PlanView Large = new(Guid.NewGuid(), "large", "Large", "4 vCPU, 100 GB", 42.5m, new Dictionary<string, int> { ["storageGb"] = 100 });

    private static readonly TeamSummary Alpha = new(Guid.NewGuid(), "alpha", "Alpha", "owner", 3);
    private static readonly TeamSummary Beta = new(Guid.NewGuid(), "beta", "Beta", "developer", 5);

    private static OfferingView Postgres(bool isAvailable = true) => new(
        Guid.NewGuid(), "postgresql", "postgresql", "PostgreSQL", "A managed PostgreSQL database.", "Databases", isAvailable,
        isAvailable ? [Guid.NewGuid()] : [], [Small, Large], isAvailable ? ["dc1"] : [], [], []);

    private readonly List<RequestInstance> _requests = [];

    private Func<RequestInstance, Task<string?>> Record(string? result = null) => request =>
    {
        _requests.Add(request);
        return Task.FromResult(result);
    };

    private IRenderedComponent<OfferingCard> RenderCard(
        OfferingView offering, IReadOnlyList<TeamSummary> teams, Func<RequestInstance, Task<string?>>? onRequest = null) =>
        Render<OfferingCard>(ps => ps
            .Add(p => p.Offering, offering)
            .Add(p => p.Teams, teams)
            .Add(p => p.OnRequest, onRequest ?? Record()));

    private static IElement RequestButton(IRenderedComponent<OfferingCard> cut) => cut.Find("[data-testid=request-postgresql]");

    [Fact]
    public void Render_OfferingWithTeams_ShowsNamePlansPricesNameFieldAndEnabledRequest()
    {
        var cut = RenderCard(Postgres(), [Alpha, Beta]);

        Assert.Equal("PostgreSQL", cut.Find("h6").TextContent.Trim());
        Assert.Contains("Databases", cut.Markup);
        Assert.Contains("A managed PostgreSQL database.", cut.Markup);
        var plans = cut.FindAll("[data-testid^=plan-]");
        Assert.Equal(["plan-small", "plan-large"], plans.Select(p => p.GetAttribute("data-testid")));
        var radioGroupText = cut.Find("[data-testid=plans]").TextContent;
        Assert.Contains($"Small · {10m.ToString("0.00", CultureInfo.CurrentCulture)} / month", radioGroupText);
        Assert.Contains($"Large · {42.5m.ToString("0.00", CultureInfo.CurrentCulture)} / month", radioGroupText);
        Assert.Contains("1 vCPU, 10 GB", radioGroupText);
        Assert.NotNull(cut.Find("input#name-postgresql"));
        Assert.NotNull(cut.Find("[data-testid=team-select]"));
        Assert.False(RequestButton(cut).HasAttribute("disabled"));
        Assert.DoesNotContain("Join a team", cut.Markup);
        Assert.DoesNotContain("Not available yet", cut.Markup);
    }

    [Fact]
    public void Render_FirstPlan_IsCheckedByDefault()
    {
        var cut = RenderCard(Postgres(), [Alpha]);

        Assert.True(cut.Find("[data-testid=plan-small]").HasAttribute("checked"));
        Assert.False(cut.Find("[data-testid=plan-large]").HasAttribute("checked"));
    }

    [Fact]
    public void Render_FirstTeam_IsPreselected() =>
        Assert.Equal("Alpha", RenderCard(Postgres(), [Alpha, Beta]).Find("[data-testid=team-select]").TextContent.Trim());

    [Fact]
    public void Render_NoTeams_ShowsJoinATeamAndDisablesRequest()
    {
        var cut = RenderCard(Postgres(), []);

        Assert.Contains("Join a team as a developer or owner", cut.Markup);
        Assert.Equal("/teams", cut.Find("a[href='/teams']").GetAttribute("href"));
        Assert.Empty(cut.FindAll("input#name-postgresql"));
        Assert.Empty(cut.FindAll("[data-testid=team-select]"));
        Assert.True(RequestButton(cut).HasAttribute("disabled"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void Render_OfferingNotAvailable_ShowsNotAvailableAndDisablesRequest(int teamCount)
    {
        var cut = RenderCard(Postgres(isAvailable: false), new[] { Alpha, Beta }.Take(teamCount).ToList());

        Assert.Contains("Not available yet", cut.Markup);
        Assert.DoesNotContain("Join a team", cut.Markup);
        Assert.Empty(cut.FindAll("input#name-postgresql"));
        Assert.True(RequestButton(cut).HasAttribute("disabled"));
    }

    [Fact]
    public void Request_TypedNameWithDefaults_SendsFirstTeamFirstPlanOfferingAndName()
    {
        var cut = RenderCard(Postgres(), [Alpha, Beta]);

        cut.Find("input#name-postgresql").Change("orders-db");
        RequestButton(cut).Click();

        var request = Assert.Single(_requests);
        Assert.Equal(new RequestInstance(Alpha.Id, "postgresql", "small", "orders-db", "dev"), request);
    }

    [Fact]
    public void Request_NameWithSurroundingSpaces_SendsTrimmedName()
    {
        var cut = RenderCard(Postgres(), [Alpha]);

        cut.Find("input#name-postgresql").Change("  orders-db  ");
        RequestButton(cut).Click();

        Assert.Equal("orders-db", Assert.Single(_requests).Name);
    }

    [Fact]
    public void Request_NoNameTyped_SendsEmptyName()
    {
        var cut = RenderCard(Postgres(), [Alpha]);

        RequestButton(cut).Click();

        Assert.Equal("", Assert.Single(_requests).Name);
    }

    [Fact]
    public void Request_SecondPlanPicked_SendsThatPlan()
    {
        var cut = RenderCard(Postgres(), [Alpha]);

        cut.Find("[data-testid=plan-large]").Click();
        cut.WaitForAssertion(() => Assert.True(cut.Find("[data-testid=plan-large]").HasAttribute("checked")));
        cut.Find("input#name-postgresql").Change("reports-db");
        RequestButton(cut).Click();

        Assert.Equal(new RequestInstance(Alpha.Id, "postgresql", "large", "reports-db", "dev"), Assert.Single(_requests));
    }

    [Fact]
    public void Request_SecondTeamPicked_SendsThatTeam()
    {
        var host = RenderWithPopovers<OfferingCard>(ps => ps
            .Add(p => p.Offering, Postgres())
            .Add(p => p.Teams, [Alpha, Beta])
            .Add(p => p.OnRequest, Record()));

        // MudSelect opens on mouse-down; its items render into the popover provider.
        host.Find("[data-testid=team-select]").MouseDown();
        host.WaitForAssertion(() => Assert.Contains(host.FindAll(".mud-popover-provider .mud-list-item"), i => i.TextContent.Trim() == "Beta"));
        host.FindAll(".mud-popover-provider .mud-list-item").Single(i => i.TextContent.Trim() == "Beta").Click();
        host.WaitForAssertion(() => Assert.Equal("Beta", host.Find("[data-testid=team-select]").TextContent.Trim()));
        host.Find("input#name-postgresql").Change("orders-db");
        host.Find("[data-testid=request-postgresql]").Click();

        Assert.Equal(new RequestInstance(Beta.Id, "postgresql", "small", "orders-db", "dev"), Assert.Single(_requests));
    }

    [Fact]
    public void Request_HandlerReturnsError_ShowsIt()
    {
        var cut = RenderCard(Postgres(), [Alpha], Record("The team has an instance named 'orders-db' already."));

        cut.Find("input#name-postgresql").Change("orders-db");
        RequestButton(cut).Click();

        cut.WaitForAssertion(() => Assert.Equal(
            "The team has an instance named 'orders-db' already.", cut.Find("[data-testid=request-error]").TextContent.Trim()));
        Assert.False(RequestButton(cut).HasAttribute("disabled"));
    }

    [Fact]
    public void Request_SucceedsAfterAnError_ClearsTheError()
    {
        var results = new Queue<string?>(["Pick a plan.", null]);
        var cut = RenderCard(Postgres(), [Alpha], request =>
        {
            _requests.Add(request);
            return Task.FromResult(results.Dequeue());
        });

        RequestButton(cut).Click();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=request-error]")));
        RequestButton(cut).Click();

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=request-error]")));
        Assert.Equal(2, _requests.Count);
    }

    [Fact]
    public void Request_Succeeds_ShowsNoError()
    {
        var cut = RenderCard(Postgres(), [Alpha]);

        cut.Find("input#name-postgresql").Change("orders-db");
        RequestButton(cut).Click();

        Assert.Single(_requests);
        Assert.Empty(cut.FindAll("[data-testid=request-error]"));
    }

    [Fact]
    public async Task Request_WhileHandlerRuns_DisablesRequestButton()
    {
        var pending = new TaskCompletionSource<string?>();
        var cut = RenderCard(Postgres(), [Alpha], request =>
        {
            _requests.Add(request);
            return pending.Task;
        });

        RequestButton(cut).Click();
        cut.WaitForAssertion(() => Assert.True(RequestButton(cut).HasAttribute("disabled")));

        await cut.InvokeAsync(() => pending.SetResult(null));
        cut.WaitForAssertion(() => Assert.False(RequestButton(cut).HasAttribute("disabled")));
        Assert.Single(_requests);
    }

    private static OfferingView Identity() => new(
        Guid.NewGuid(), "oidc", "oidc", "Identity", "OIDC for apps.", "Identity", true, [Guid.NewGuid(), Guid.NewGuid()], [Small],
        ["dc1", "dc2"], [new DriverField("redirectUris", "Redirect URIs", "space-separated https URLs")], []);

    [Fact]
    public void Render_OfferingWithParametersAndSites_ShowsAFieldPerParameterAndASiteChoice()
    {
        var cut = RenderCard(Identity(), [Alpha]);

        var field = cut.Find("input#param-oidc-redirectUris");
        Assert.NotNull(field);
        Assert.Contains("space-separated https URLs", cut.Markup);
        Assert.NotNull(cut.Find("[data-testid=site-select]"));
    }

    [Fact]
    public void Request_WithParameter_SendsItTrimmed()
    {
        var cut = RenderCard(Identity(), [Alpha]);

        cut.Find("input#name-oidc").Change("orders-web");
        cut.Find("input#param-oidc-redirectUris").Change("  https://orders.example.com/cb ");
        cut.Find("[data-testid=request-oidc]").Click();

        var request = Assert.Single(_requests);
        Assert.Equal("https://orders.example.com/cb", Assert.Single(request.Parameters!)
            is { Key: "redirectUris" } p ? p.Value : null);
        Assert.Null(request.Site);
    }

    [Fact]
    public void Render_SingleSite_ShowsNoSiteChoice() =>
        Assert.Empty(RenderCard(Postgres(), [Alpha]).FindAll("[data-testid=site-select]"));
}
