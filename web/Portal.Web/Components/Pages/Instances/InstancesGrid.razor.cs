using Microsoft.AspNetCore.Components;
using MudBlazor;
using Portal.Application.Instances;

namespace Portal.Web.Components.Pages.Instances;

/// <summary>
/// Instances in a data grid that pages, sorts and searches on the server: each page is one query.
/// </summary>
public partial class InstancesGrid
{
    private MudDataGrid<InstanceSummary>? _grid;
    private string? _search;

    /// <summary>Loads one page; the grid passes page, size, sort and search.</summary>
    [Parameter, EditorRequired]
    public Func<ListInstances, CancellationToken, Task<Page<InstanceSummary>>> Load { get; set; } = default!;

    /// <summary>The toolbar title.</summary>
    [Parameter]
    public string Title { get; set; } = "Instances";

    /// <summary>Rows per page at first.</summary>
    [Parameter]
    public int PageSize { get; set; } = 25;

    /// <summary>Loads the current page again, e.g. when an instance changed.</summary>
    public Task ReloadAsync() => _grid?.ReloadServerData() ?? Task.CompletedTask;

    private async Task<GridData<InstanceSummary>> LoadAsync(GridState<InstanceSummary> state, CancellationToken ct)
    {
        var sort = state.SortDefinitions.FirstOrDefault();
        var page = await Load(new ListInstances(state.Page, state.PageSize, sort?.SortBy, sort?.Descending ?? true, Search: _search), ct);
        return new GridData<InstanceSummary> { Items = page.Items, TotalItems = page.TotalItems };
    }

    private async Task SearchAsync(string? search)
    {
        _search = search;
        if (_grid is null)
        {
            return;
        }

        // A new search starts from the first page; navigating there loads it.
        if (_grid.CurrentPage != 0)
        {
            _grid.NavigateTo(MudBlazor.Page.First);
        }
        else
        {
            await _grid.ReloadServerData();
        }
    }
}
