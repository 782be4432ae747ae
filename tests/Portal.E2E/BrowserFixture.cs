using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E;

/// <summary>The real portal on a Kestrel port, and a headless Debian Chromium driven by Playwright.</summary>
public class BrowserFixture : PortalAppFactory
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = default!;

    public string BaseUrl { get; private set; } = "";

    public static string ScreenshotDirectory
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Portal.sln")))
            {
                dir = dir.Parent;
            }

            var path = Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "artifacts", "screenshots");
            Directory.CreateDirectory(path);
            return path;
        }
    }

    public override async ValueTask InitializeAsync()
    {
        var chromium = TestEnvironment.Chromium;
        await base.InitializeAsync();
        UseKestrel(0);
        StartServer();
        BaseUrl = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // Root in a sandbox-less container, and a machine without outside network.
            Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>A fresh browser context (no cookies) on the portal, with a generous default timeout.</summary>
    public async Task<IPage> NewPageAsync(float timeout = 60_000)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseUrl,
            ViewportSize = new ViewportSize { Width = 1440, Height = 1000 },
        });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(timeout);
        return page;
    }

    /// <summary>
    /// Waits for a state chip (<c>[data-testid=state]</c>) to say <paramref name="state"/>; when it does not, the failure
    /// says what the portal's operations and jobs were doing meanwhile.
    /// </summary>
    public async Task ExpectStateAsync(ILocator chip, string state, float timeout = 60_000)
    {
        try
        {
            await Assertions.Expect(chip).ToHaveAttributeAsync("data-state", state, new() { Timeout = timeout });
        }
        catch (PlaywrightException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{await JobsReportAsync()}", e);
        }
    }

    /// <summary>Fills the sign-in page the portal has just sent the page to, as the seeded admin.</summary>
    public async Task SignInAsAdminAsync(IPage page)
    {
        await page.WaitForURLAsync(new System.Text.RegularExpressions.Regex("/account/login"));
        await page.FillAsync("#email", AdminEmail);
        await page.FillAsync("#password", AdminPassword);
        await page.ClickAsync("#sign-in");
    }

    public override async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await base.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

/// <summary>A <see cref="BrowserFixture"/> with the sign-in rate limits of appsettings.json, for the tests of those limits.</summary>
public sealed class LimitedBrowserFixture : BrowserFixture
{
    protected override bool KeepsSignInLimits => true;
}
