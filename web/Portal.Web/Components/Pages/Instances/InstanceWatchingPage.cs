using Microsoft.AspNetCore.Components;
using MudBlazor;
using Portal.Application.Common;
using Portal.Application.Instances;

namespace Portal.Web.Components.Pages.Instances;

/// <summary>
/// A page about one instance (the instance page, a binding's page). It re-reads when the instance changes: at once on
/// an event (<see cref="InstanceEvents"/>), and every few seconds while the instance, a binding or an operation is in a
/// state that changes on its own, since an event can be missed (a worker on another host, a dropped LISTEN
/// connection). It must never keep showing a state the database has left: it subscribes before its first read, reads
/// one at a time, and reads again when a change arrived during a read, so a slow read cannot overwrite a newer one.
/// Actions run through <see cref="RunAsync"/>: busy flag, snackbar, reload.
/// </summary>
public abstract class InstanceWatchingPage : ComponentBase, IDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(3);

    private readonly CancellationTokenSource _closed = new();

    [Parameter]
    public Guid InstanceId { get; set; }

    [Inject]
    protected InstanceEvents Events { get; set; } = default!;

    [Inject]
    protected ISnackbar Snackbar { get; set; } = default!;

    /// <summary>True while an action of the page runs (buttons are disabled).</summary>
    protected bool Busy { get; private set; }

    /// <summary>The instance as last read, for <see cref="PollWhileWorkingAsync"/>; null until read or when refused.</summary>
    protected abstract InstanceDetails? Watched { get; }

    /// <summary>Reads what the page shows.</summary>
    protected abstract Task LoadAsync();

    // Every read goes through RefreshAsync; both fields are touched only on the renderer's context.
    private bool _loading;
    private bool _stale;

    protected override void OnInitialized()
    {
        // Before the first read, so that a change made between that read and the subscription is not lost. The
        // prerender reads once and is thrown away; only the interactive render watches.
        if (RendererInfo.IsInteractive)
        {
            Events.Changed += OnInstanceChanged;
            _ = PollWhileChangingAsync();
        }
    }

    protected override Task OnParametersSetAsync() => RefreshAsync();

    protected async Task RunAsync(Func<Task> action, string? success = null)
    {
        Busy = true;
        try
        {
            await action();
            if (success is not null)
            {
                Snackbar.Add(success, Severity.Success);
            }
        }
        catch (PortalException e)
        {
            Snackbar.Add(e.Message, Severity.Error);
        }
        finally
        {
            Busy = false;
        }

        await RefreshAsync();
    }

    /// <summary>
    /// Reads what the page shows, one read at a time: a call while a read runs marks it stale, and the running read
    /// reads again before it returns (its caller renders).
    /// </summary>
    protected async Task RefreshAsync()
    {
        _stale = true;
        if (_loading)
        {
            return;
        }

        _loading = true;
        try
        {
            while (_stale)
            {
                _stale = false;
                await LoadAsync();
            }
        }
        finally
        {
            _loading = false;
        }
    }

    /// <summary>True while something on the page changes without anyone on the page acting: then it polls.</summary>
    public static bool IsChanging(InstanceDetails? details) =>
        details is not null &&
        (details.Instance.State is "PendingApproval" or "Provisioning" or "Updating" or "Deprovisioning"
         || details.Bindings.Any(b => b.State is "Creating" or "Deleting")
         || details.Operations.Any(o => o.State is "Queued" or "Running"));

    private async Task PollWhileChangingAsync()
    {
        using var timer = new PeriodicTimer(PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_closed.Token))
            {
                if (IsChanging(Watched))
                {
                    await InvokeAsync(ReloadAsync);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void OnInstanceChanged(Guid instanceId)
    {
        if (instanceId == InstanceId)
        {
            _ = InvokeAsync(ReloadAsync);
        }
    }

    private async Task ReloadAsync()
    {
        await RefreshAsync();
        StateHasChanged();
    }

    public void Dispose()
    {
        Events.Changed -= OnInstanceChanged;
        _closed.Cancel();
        _closed.Dispose();
        GC.SuppressFinalize(this);
    }
}
