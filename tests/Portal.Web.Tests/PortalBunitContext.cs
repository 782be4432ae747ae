using Microsoft.AspNetCore.Components;
using MudBlazor;
using MudBlazor.Services;

namespace Portal.Web.Tests;

/// <summary>
/// A bUnit context set up for MudBlazor components: loose JS interop (MudBlazor calls JS we do not emulate) and
/// MudBlazor's services. xUnit v3 disposes it through <see cref="IAsyncDisposable"/>.
/// </summary>
public abstract class PortalBunitContext : BunitContext
{
    protected PortalBunitContext()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
    }

    /// <summary>
    /// Renders <typeparamref name="TComponent"/> inside a <see cref="PopoverHost"/>, next to the <see cref="MudPopoverProvider"/>
    /// that popovers (selects, menus) need. Find popover content on the returned host, not on the component.
    /// </summary>
    protected IRenderedComponent<PopoverHost> RenderWithPopovers<TComponent>(Action<ComponentParameterCollectionBuilder<TComponent>> parameters)
        where TComponent : IComponent =>
        Render<PopoverHost>(host => host.AddChildContent(parameters));
}
