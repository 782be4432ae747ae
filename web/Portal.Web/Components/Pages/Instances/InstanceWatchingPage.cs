using Microsoft.AspNetCore.Components;
using MudBlazor;
using Portal.Application.Common;
using Portal.Application.Instances;

namespace Portal.Web.Components.Pages.Instances;

/// <summary>
/// A page about one instance (the instance page, a binding's page). It re-reads when the instance changes: at once on
/// an event from a worker in this process, and every few seconds while an operation is queued or running, since a
/// worker on another host cannot reach the page. Actions run through <see cref="RunAsync"/>: busy flag, snackbar, reload.
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

    protected override Task OnParametersSetAsync() => LoadAsync();

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
        {
            Events.Changed += OnInstanceChanged;
            _ = PollWhileWorkingAsync();
        }
    }

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

        await LoadAsync();
    }

    private async Task PollWhileWorkingAsync()
    {
        using var timer = new PeriodicTimer(PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_closed.Token))
            {
                if (Watched?.Operations.Any(o => o.State is "Queued" or "Running") == true)
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
        await LoadAsync();
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
