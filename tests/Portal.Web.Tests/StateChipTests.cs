using MudBlazor;
using Portal.Web.Components.Shared;

namespace Portal.Web.Tests;

public sealed class StateChipTests : PortalBunitContext
{
    [Theory]
    [InlineData("Ready", "success")]
    [InlineData("Succeeded", "success")]
    [InlineData("Failed", "error")]
    [InlineData("Rejected", "error")]
    [InlineData("Degraded", "warning")]
    [InlineData("PendingApproval", "warning")]
    [InlineData("Deleted", "dark")]
    [InlineData("Provisioning", "info")]
    [InlineData("Creating", "info")]
    [InlineData("SomethingNew", "info")]
    public void Render_State_UsesColourClassAndShowsState(string state, string colour)
    {
        var cut = Render<StateChip>(ps => ps.Add(p => p.State, state));

        var chip = cut.Find("[data-testid=state]");
        Assert.Equal(state, chip.GetAttribute("data-state"));
        Assert.Contains($"mud-chip-color-{colour}", chip.ClassList);
        Assert.Equal(state, chip.TextContent.Trim());
    }

    [Theory]
    [InlineData("Ready", Color.Success)]
    [InlineData("Succeeded", Color.Success)]
    [InlineData("Failed", Color.Error)]
    [InlineData("Rejected", Color.Error)]
    [InlineData("Degraded", Color.Warning)]
    [InlineData("PendingApproval", Color.Warning)]
    [InlineData("Deleted", Color.Dark)]
    [InlineData("Provisioning", Color.Info)]
    [InlineData("", Color.Info)]
    public void ColorFor_State_ReturnsColour(string state, Color expected) =>
        Assert.Equal(expected, StateChip.ColorFor(state));

    [Theory]
    [InlineData("Provisioning", true)]
    [InlineData("Updating", true)]
    [InlineData("Deprovisioning", true)]
    [InlineData("Creating", true)]
    [InlineData("Deleting", true)]
    [InlineData("Running", true)]
    [InlineData("Queued", true)]
    [InlineData("Ready", false)]
    [InlineData("Failed", false)]
    [InlineData("Deleted", false)]
    [InlineData("PendingApproval", false)]
    public void Render_State_ShowsProgressCircleOnlyWhileBusy(string state, bool busy)
    {
        var cut = Render<StateChip>(ps => ps.Add(p => p.State, state));

        Assert.Equal(busy, StateChip.IsBusy(state));
        Assert.Equal(busy ? 1 : 0, cut.FindAll("[data-testid=state] .mud-progress-circular").Count);
    }
}
