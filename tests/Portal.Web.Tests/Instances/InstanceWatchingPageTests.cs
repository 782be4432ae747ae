using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Rendering;
using Microsoft.Extensions.DependencyInjection;
using Portal.Application.Instances;
using Portal.Web.Components.Pages.Instances;

namespace Portal.Web.Tests.Instances;

/// <summary>
/// A page that watches an instance never keeps showing a state the database has left: not when the worker finishes
/// between the page's read and its subscription, not when reads overlap, not when no event comes at all.
/// </summary>
public sealed class InstanceWatchingPageTests : PortalBunitContext
{
    private static readonly Guid InstanceId = Guid.CreateVersion7();
    private readonly InstanceEvents _events = new();

    public InstanceWatchingPageTests()
    {
        Services.AddSingleton(_events);
        SetRendererInfo(new RendererInfo("Server", isInteractive: true));
    }

    [Fact]
    public void Page_OperationFinishesDuringTheFirstRead_ShowsReadyWithoutWaitingForThePoll()
    {
        // The first read sees the instance still Provisioning, and its operation already Succeeded (separate queries
        // of one read straddle the worker's commit); the worker's event arrives before that read has returned.
        var current = Details("Provisioning", "Succeeded");
        var reads = 0;
        var page = Render<WatchingProbe>(p => p
            .Add(x => x.InstanceId, InstanceId)
            .Add(x => x.Read, async () =>
            {
                var seen = current;
                if (++reads == 1)
                {
                    current = Details("Ready", "Succeeded");
                    _events.Raise(InstanceId);
                }

                await Task.Yield();
                return seen;
            }));

        // Well within the 3 s poll: the event itself must bring the page to Ready.
        page.WaitForAssertion(() => Assert.Equal("Ready", page.Find("span").GetAttribute("data-state")), TimeSpan.FromSeconds(1.5));
    }

    [Fact]
    public void Page_ManyEventsWhileReadsAreSlow_ReadsOneAtATimeAndEndsOnTheLatestState()
    {
        var version = 0;
        var page = Render<WatchingProbe>(p => p
            .Add(x => x.InstanceId, InstanceId)
            .Add(x => x.Read, async () =>
            {
                var seen = Details(version < 20 ? "Provisioning" : "Ready", version < 20 ? "Running" : "Succeeded");
                await Task.Delay(15);
                return seen;
            }));

        for (var i = 0; i < 20; i++)
        {
            version++;
            _events.Raise(InstanceId);
            Thread.Sleep(5);
        }

        page.WaitForAssertion(() => Assert.Equal("Ready", page.Find("span").GetAttribute("data-state")), TimeSpan.FromSeconds(2));
        Assert.Equal(1, page.Instance.MostReadsAtOnce);
    }

    [Fact]
    public void Page_InstanceProvisioningAndNoEventComes_PollsUntilItIsReady()
    {
        var current = Details("Provisioning", "Succeeded");
        var page = Render<WatchingProbe>(p => p
            .Add(x => x.InstanceId, InstanceId)
            .Add(x => x.Read, () => Task.FromResult(current)));
        Assert.Equal("Provisioning", page.Find("span").GetAttribute("data-state"));

        current = Details("Ready", "Succeeded");

        page.WaitForAssertion(() => Assert.Equal("Ready", page.Find("span").GetAttribute("data-state")), TimeSpan.FromSeconds(8));
    }

    [Fact]
    public void IsChanging_SettledOrTransitional_PollsOnlyWhileSomethingChangesOnItsOwn()
    {
        Assert.False(InstanceWatchingPage.IsChanging(Details("Ready", "Succeeded")));
        Assert.False(InstanceWatchingPage.IsChanging(Details("Failed", "Failed")));
        Assert.True(InstanceWatchingPage.IsChanging(Details("Provisioning", "Succeeded")));
        Assert.True(InstanceWatchingPage.IsChanging(Details("Ready", "Queued")));
        Assert.True(InstanceWatchingPage.IsChanging(Details("Ready", "Succeeded") with
        {
            Bindings = [new BindingView(Guid.CreateVersion7(), InstanceId, "shop-api", "Creating", null, DateTimeOffset.UtcNow)],
        }));
    }

    private static InstanceDetails Details(string instanceState, string operationState)
    {
        var now = DateTimeOffset.UtcNow;
        return new InstanceDetails(
            new InstanceSummary(InstanceId, "orders-db", Guid.Empty, "Demo", "postgresql", "PostgreSQL", "small", "Small",
                instanceState, null, now, now),
            [],
            [new OperationView(Guid.CreateVersion7(), InstanceId, null, "Provision", operationState, 1, null, now, now, null, [])],
            new InstancePermissions(CanDeploy: true, CanReadSecrets: true));
    }

    /// <summary>The smallest watching page: shows the instance's state and counts how many reads ran at once.</summary>
    public sealed class WatchingProbe : InstanceWatchingPage
    {
        private InstanceDetails? _details;
        private int _readsNow;

        [Parameter]
        public Func<Task<InstanceDetails>> Read { get; set; } = default!;

        public int MostReadsAtOnce { get; private set; }

        protected override InstanceDetails? Watched => _details;

        protected override async Task LoadAsync()
        {
            MostReadsAtOnce = Math.Max(MostReadsAtOnce, ++_readsNow);
            try
            {
                _details = await Read();
            }
            finally
            {
                _readsNow--;
            }
        }

        protected override void BuildRenderTree(RenderTreeBuilder builder)
        {
            builder.OpenElement(0, "span");
            builder.AddAttribute(1, "data-state", _details?.Instance.State);
            builder.CloseElement();
        }
    }
}
