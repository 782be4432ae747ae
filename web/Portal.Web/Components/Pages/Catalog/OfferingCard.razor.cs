using Microsoft.AspNetCore.Components;
using MudBlazor;
using Portal.Application.Catalog;
using Portal.Application.Instances;
using Portal.Application.Teams;

namespace Portal.Web.Components.Pages.Catalog;

/// <summary>One catalog offering: its plans, and a form to request an instance of it.</summary>
public partial class OfferingCard
{
    private string? _plan;
    private string? _name;
    private Guid _teamId;
    private string _environment = "dev";
    private string? _site;
    private readonly Dictionary<string, string> _parameters = [];
    private string? _error;
    private bool _busy;

    /// <summary>The offering with its plans.</summary>
    [Parameter, EditorRequired]
    public OfferingView Offering { get; set; } = default!;

    /// <summary>The teams the user may request instances for (developer or owner).</summary>
    [Parameter]
    public IReadOnlyList<TeamSummary> Teams { get; set; } = [];

    /// <summary>Carries out the request; returns an error message to show, or null on success.</summary>
    [Parameter, EditorRequired]
    public Func<RequestInstance, Task<string?>> OnRequest { get; set; } = default!;

    private bool CanRequest => Offering.IsAvailable && Teams.Count > 0;

    protected override void OnParametersSet()
    {
        _plan ??= Offering.Plans.Count > 0 ? Offering.Plans[0].Key : null;
        if (_teamId == Guid.Empty && Teams.Count > 0)
        {
            _teamId = Teams[0].Id;
        }
    }

    private async Task RequestAsync()
    {
        _busy = true;
        try
        {
            _error = await OnRequest(new RequestInstance(_teamId, Offering.Key, _plan ?? "", _name?.Trim() ?? "", _environment,
                string.IsNullOrEmpty(_site) ? null : _site, Parameters()));
        }
        finally
        {
            _busy = false;
        }
    }

    private Dictionary<string, string>? Parameters()
    {
        var given = _parameters.Where(p => !string.IsNullOrWhiteSpace(p.Value)).ToDictionary(p => p.Key, p => p.Value.Trim());
        return given.Count == 0 ? null : given;
    }

    private static string IconFor(string kind) => kind switch
    {
        "postgresql" => Icons.Material.Filled.Storage,
        "rabbitmq" => Icons.Material.Filled.Message,
        "redis" => Icons.Material.Filled.Bolt,
        "etcd" => Icons.Material.Filled.Settings,
        "s3" => Icons.Material.Filled.Inventory2,
        "oidc" => Icons.Material.Filled.Key,
        "logging" => Icons.Material.Filled.Article,
        "monitoring" => Icons.Material.Filled.MonitorHeart,
        _ => Icons.Material.Filled.Cloud,
    };
}
