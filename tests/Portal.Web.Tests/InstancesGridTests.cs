using System.Collections.Concurrent;
using Portal.Application.Instances;
using Portal.Web.Components.Pages.Instances;

namespace Portal.Web.Tests;

public sealed class InstancesGridTests : PortalBunitContext
{
    private readonly ConcurrentQueue<ListInstances> _queries = new();

    private static InstanceSummary Summary(string name, string state) => new(
        Guid.NewGuid(), name, Guid.NewGuid(), "Alpha", "postgresql", "PostgreSQL", "small", "Small", state, null,
        new DateTimeOffset(2025, 5, 6, 7, 8, 0, TimeSpan.Zero), new DateTimeOffset(2025, 5, 6, 7, 9, 0, TimeSpan.Zero));

    private Func<ListInstances, CancellationToken, Task<Page<InstanceSummary>>> Serve(IReadOnlyList<InstanceSummary> items, int total) =>
        (query, _) =>
        {
            _queries.Enqueue(query);
            return Task.FromResult(new Page<InstanceSummary>(items, total, query.Page, query.PageSize));
        };

    private IRenderedComponent<InstancesGrid> RenderGrid(Func<ListInstances, CancellationToken, Task<Page<InstanceSummary>>> load) =>
        Render<InstancesGrid>(ps => ps.Add(p => p.Load, load));

    [Fact]
    public void Render_FirstLoad_AsksForPageZeroWithDefaultPageSize()
    {
        var cut = RenderGrid(Serve([Summary("orders-db", "Ready")], 1));

        cut.WaitForAssertion(() => Assert.NotEmpty(_queries));
        var query = Assert.Single(_queries);
        Assert.Equal(0, query.Page);
        Assert.Equal(25, query.PageSize);
        Assert.Null(query.SortBy);
        Assert.True(query.Descending);
        Assert.Null(query.Search);
    }

    [Fact]
    public void Render_Items_ShowsOneRowPerItemWithLinkAndStateChip()
    {
        InstanceSummary[] items = [Summary("orders-db", "Ready"), Summary("cache", "Provisioning"), Summary("queue", "Failed")];
        var cut = RenderGrid(Serve(items, items.Length));

        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("tbody tr").Count));
        var rows = cut.FindAll("tbody tr");
        for (var i = 0; i < items.Length; i++)
        {
            var link = rows[i].QuerySelector("[data-testid=instance-link]")!;
            Assert.Equal(items[i].Name, link.TextContent.Trim());
            Assert.Equal($"/instances/{items[i].Id}", link.GetAttribute("href"));
            var chip = rows[i].QuerySelector("[data-testid=state]")!;
            Assert.Equal(items[i].State, chip.GetAttribute("data-state"));
            Assert.Contains("Alpha", rows[i].TextContent);
            Assert.Contains("PostgreSQL", rows[i].TextContent);
            Assert.Contains("Small", rows[i].TextContent);
            Assert.Contains("2025-05-06 07:08", rows[i].TextContent);
        }
    }

    [Fact]
    public void Render_TotalItems_ShowsPagerWithTotal()
    {
        var cut = RenderGrid(Serve([Summary("orders-db", "Ready")], 60));

        cut.WaitForAssertion(() => Assert.Contains("1-25 of 60", cut.Find(".mud-table-pagination").TextContent));
    }

    [Fact]
    public void Render_NoInstances_ShowsNoInstancesYet()
    {
        var cut = RenderGrid(Serve([], 0));

        cut.WaitForAssertion(() => Assert.Contains("No instances yet", cut.Markup));
        Assert.Empty(cut.FindAll("[data-testid=instance-link]"));
        Assert.Equal("/catalog", cut.Find("a[href='/catalog']").GetAttribute("href"));
    }

    [Fact]
    public void Render_Title_ShowsInToolbar()
    {
        var cut = Render<InstancesGrid>(ps => ps.Add(p => p.Load, Serve([], 0)).Add(p => p.Title, "Team Alpha's instances"));

        Assert.Equal("Team Alpha's instances", cut.Find(".mud-toolbar h6").TextContent.Trim());
    }

    [Fact]
    public void NextPage_Clicked_LoadsPageOne()
    {
        var cut = RenderGrid(Serve([Summary("orders-db", "Ready")], 60));
        cut.WaitForAssertion(() => Assert.Single(_queries));

        cut.Find("button[aria-label='Next page']").Click();

        cut.WaitForAssertion(() => Assert.Equal(2, _queries.Count));
        var second = _queries.Last();
        Assert.Equal(1, second.Page);
        Assert.Equal(25, second.PageSize);
        cut.WaitForAssertion(() => Assert.Contains("26-50 of 60", cut.Find(".mud-table-pagination").TextContent));
    }

    [Fact]
    public void NextPage_OnlyOnePage_IsDisabled()
    {
        var cut = RenderGrid(Serve([Summary("orders-db", "Ready")], 1));

        cut.WaitForAssertion(() => Assert.True(cut.Find("button[aria-label='Next page']").HasAttribute("disabled")));
    }

    [Fact]
    public void PageSize_Parameter_IsSentToLoad()
    {
        var cut = Render<InstancesGrid>(ps => ps.Add(p => p.Load, Serve([], 0)).Add(p => p.PageSize, 10));

        cut.WaitForAssertion(() => Assert.Equal(10, Assert.Single(_queries).PageSize));
    }

    [Theory]
    [InlineData("Name", "name")]
    [InlineData("State", "state")]
    [InlineData("Team", "teamname")]
    [InlineData("Offering", "offeringname")]
    public void SortHeader_Clicked_LoadsAscendingBySortKeyTheServerKnows(string title, string sortKey)
    {
        // ListInstancesHandler sorts by "name", "team"/"teamname", "state" and "offering"/"offeringname" (case-insensitive)
        // and falls back to the creation time for anything else.
        var cut = RenderGrid(Serve([Summary("orders-db", "Ready")], 1));
        cut.WaitForAssertion(() => Assert.Single(_queries));

        var headers = cut.FindAll(".sortable-column-header");
        Assert.True(headers.Any(h => h.TextContent.Trim() == title), $"The {title} column has no sortable header.");
        headers.Single(h => h.TextContent.Trim() == title).Click();

        cut.WaitForAssertion(() => Assert.Equal(2, _queries.Count));
        var sorted = _queries.Last();
        Assert.Equal(sortKey, sorted.SortBy?.ToLowerInvariant());
        Assert.False(sorted.Descending);
    }

    [Fact]
    public void Search_TextEntered_LoadsWithSearchFromPageZero()
    {
        var cut = RenderGrid(Serve([Summary("orders-db", "Ready")], 60));
        cut.WaitForAssertion(() => Assert.Single(_queries));
        cut.Find("button[aria-label='Next page']").Click();
        cut.WaitForAssertion(() => Assert.Equal(1, _queries.Last().Page));

        cut.Find("input[placeholder='Search by name']").Input("orders");

        // The field debounces for 300 ms before it searches.
        cut.WaitForAssertion(() => Assert.Equal("orders", _queries.Last().Search), TimeSpan.FromSeconds(5));
        Assert.Equal(0, _queries.Last().Page);
    }
}
