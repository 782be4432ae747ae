using Microsoft.Playwright;

namespace Portal.E2E;

/// <summary>
/// A platform admin finds the egress allow list in the Admin menu, is told in the page why a bad entry is refused, adds
/// an entry and removes it again.
/// </summary>
public sealed class EgressPageTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Admin_AddsAndRemovesAnAllowEntry_BadTargetIsExplained()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/catalog");
        await fixture.SignInAsAdminAsync(page);
        await page.WaitForURLAsync("**/catalog");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.ClickAsync("text=Egress allow list");
        await page.WaitForURLAsync("**/admin/egress");

        // An IPv4 address in an odd spelling: refused with the reason, nothing added.
        await page.FillAsync("#egress-target", "0x7f.1");
        await page.ClickAsync("[data-testid=egress-add]");
        await Assertions.Expect(page.Locator("[data-testid=egress-error]")).ToContainTextAsync("not a CIDR");
        await Assertions.Expect(page.Locator("[data-testid=egress-target]")).ToHaveCountAsync(0);

        await page.FillAsync("#egress-target", "10.20.0.0/16");
        await page.FillAsync("#egress-note", "dc1 apps");
        await page.ClickAsync("[data-testid=egress-add]");
        await Assertions.Expect(page.Locator("[data-testid=egress-target]")).ToHaveTextAsync("10.20.0.0/16");
        await Assertions.Expect(page.Locator("[data-testid=egress-table]")).ToContainTextAsync("everywhere");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "egress-allow-list.png"), FullPage = true });

        await page.ClickAsync("[data-testid='egress-remove-10.20.0.0/16']");
        await page.ClickAsync(".mud-dialog button:has-text('Remove')");
        await Assertions.Expect(page.Locator("[data-testid=egress-target]")).ToHaveCountAsync(0);
    }
}
