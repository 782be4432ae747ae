using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Npgsql;
using Portal.Application.Backends;
using Portal.Application.Catalog;
using Portal.Application.Common;
using Portal.Application.Instances;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.E2E;

/// <summary>
/// What people see when things go wrong, in a real browser: a database dropped by hand shows as Drifted with what differs
/// and Repair brings the binding back; an operation that waits for a backend that is down says so, and a platform admin
/// ends it from Admin → Unfinished operations.
/// </summary>
public sealed partial class ConvergenceTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const float Timeout = 60_000;

    [Fact]
    public async Task Browser_DatabaseDroppedByHand_ShowsDriftedThenRepairBringsTheBindingBack()
    {
        var page = await fixture.NewPageAsync(Timeout);
        await page.GotoAsync("/catalog");
        await fixture.SignInAsAdminAsync(page);
        await WaitInteractiveAsync(page);
        await page.Locator("[data-testid=offering-postgresql]").WaitForAsync();
        await page.FillAsync("#name-postgresql", "drifting-db");
        await page.ClickAsync("[data-testid=request-postgresql]");
        await page.WaitForURLAsync(InstanceUrl());
        await WaitInteractiveAsync(page);
        var state = page.Locator("[data-testid=instance-state] [data-testid=state]");
        await fixture.ExpectStateAsync(state, "Ready", Timeout);

        await page.FillAsync("#app-name", "drifting-api");
        await page.ClickAsync("[data-testid=create-binding]");
        var binding = page.Locator("[data-testid=binding-drifting-api]");
        await fixture.ExpectStateAsync(binding.Locator("[data-testid=state]"), "Ready", Timeout);
        await binding.Locator("[data-testid=show-credentials]").ClickAsync();
        var credentials = new NpgsqlConnectionStringBuilder
        {
            Host = await binding.Locator("[data-testid=credential-host]").InnerTextAsync(),
            Port = int.Parse(await binding.Locator("[data-testid=credential-port]").InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture),
            Database = await binding.Locator("[data-testid=credential-database]").InnerTextAsync(),
            Username = await binding.Locator("[data-testid=credential-username]").InnerTextAsync(),
            Password = await binding.Locator("[data-testid=credential-password]").InnerTextAsync(),
            Pooling = false,
        };
        Assert.Equal(1, await SelectOneAsync(credentials));

        // Somebody drops the database on the server by hand.
        var admin = TestEnvironment.Backend;
        admin.Database = "postgres";
        admin.Pooling = false;
        await using (var connection = new NpgsqlConnection(admin.ConnectionString))
        {
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            await using var drop = new NpgsqlCommand($"DROP DATABASE \"{credentials.Database}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        await page.ClickAsync("[data-testid=reconcile-instance]");
        await fixture.ExpectStateAsync(state, "Drifted", Timeout);
        var drift = page.Locator("[data-testid=drift]");
        await Assertions.Expect(drift).ToContainTextAsync($"left without its database {credentials.Database}");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "instance-drifted.png"), FullPage = true });

        await drift.Locator("[data-testid=repair-instance]").ClickAsync();
        await fixture.ExpectStateAsync(state, "Ready", Timeout);
        await Assertions.Expect(drift).ToHaveCountAsync(0);
        // The app's credentials work again, unchanged.
        Assert.Equal(1, await SelectOneAsync(credentials));
    }

    [Fact]
    public async Task Browser_OperationWaitingForADownBackend_SaysSoAndAnAdminFailsItWithAReason()
    {
        var admin = await fixture.AdminAsync();
        var offering = (await fixture.RunAsync<ListOfferingsHandler, IReadOnlyList<OfferingView>>(h => h.HandleAsync()))
            .Single(o => o.Key == "redis");
        var dead = await fixture.RunAsync<RegisterBackendHandler, BackendView>(h => h.HandleAsync(admin,
            new RegisterBackend("redis-switched-off", "redis", "127.0.0.1", ClosedPort(), "admin", "unused")));
        await fixture.RunAsync<SetOfferingBackendsHandler, OfferingView>(h => h.HandleAsync(admin, offering.Id, [dead.Id]));
        var team = (await fixture.RunAsync<ListTeamsHandler, IReadOnlyList<TeamSummary>>(h => h.HandleAsync(admin))).Single(t => t.Slug == "demo");
        var requested = await fixture.RunAsync<RequestInstanceHandler, AcceptedChange<InstanceSummary>>(h => h.HandleAsync(admin,
            new RequestInstance(team.Id, "redis", offering.Plans[0].Key, "waiting-cache")));

        var page = await fixture.NewPageAsync(Timeout);
        await page.GotoAsync($"/instances/{requested.Value.Id}");
        await fixture.SignInAsAdminAsync(page);
        await WaitInteractiveAsync(page);
        await Assertions.Expect(page.Locator("[data-testid=status-message]"))
            .ToContainTextAsync("Waiting: backend redis-switched-off unreachable, retrying");
        await fixture.ExpectStateAsync(page.Locator("[data-testid=instance-state] [data-testid=state]"), "Provisioning", Timeout);

        await page.GotoAsync("/admin/operations");
        await WaitInteractiveAsync(page);
        await page.FillAsync("#stuck-minutes", "0");
        await page.FillAsync("#fail-reason", "redis-switched-off is being decommissioned");
        await page.ClickAsync("[data-testid=refresh]");
        var row = page.Locator("[data-testid=stuck-operations] tr", new() { HasText = "waiting-cache" });
        await Assertions.Expect(row).ToContainTextAsync("redis-switched-off");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "admin-unfinished-operations.png"), FullPage = true });
        await row.Locator("[data-testid^=fail-]").ClickAsync();
        await Assertions.Expect(row).ToHaveCountAsync(0);

        await page.GotoAsync($"/instances/{requested.Value.Id}");
        await WaitInteractiveAsync(page);
        await fixture.ExpectStateAsync(page.Locator("[data-testid=instance-state] [data-testid=state]"), "Failed", Timeout);
        await Assertions.Expect(page.Locator("[data-testid=status-message]")).ToContainTextAsync("redis-switched-off is being decommissioned");
    }

    private static async Task<int> SelectOneAsync(NpgsqlConnectionStringBuilder credentials)
    {
        await using var connection = new NpgsqlConnection(credentials.ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        return (int)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    /// <summary>A loopback port nothing listens on: connections to it are refused at once.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Task WaitInteractiveAsync(IPage page) =>
        page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });

    [GeneratedRegex("/instances/[0-9a-f-]{36}$")]
    private static partial Regex InstanceUrl();
}
