using Portal.Domain.Instances;

namespace Portal.Domain.Tests;

public sealed class InstanceStateMachineTests
{
    /// <summary>The instance life cycle as specified: every move that is allowed. Anything else is refused.</summary>
    private static readonly (InstanceState From, InstanceState To)[] Allowed =
    [
        (InstanceState.PendingApproval, InstanceState.Provisioning),
        (InstanceState.PendingApproval, InstanceState.Rejected),
        (InstanceState.PendingApproval, InstanceState.Expired),
        (InstanceState.Provisioning, InstanceState.Ready),
        (InstanceState.Provisioning, InstanceState.Failed),
        (InstanceState.Ready, InstanceState.Updating),
        (InstanceState.Ready, InstanceState.Deprovisioning),
        (InstanceState.Ready, InstanceState.Degraded),
        (InstanceState.Ready, InstanceState.Drifted),
        (InstanceState.Drifted, InstanceState.Ready),
        (InstanceState.Drifted, InstanceState.Updating),
        (InstanceState.Drifted, InstanceState.Deprovisioning),
        (InstanceState.Updating, InstanceState.Ready),
        (InstanceState.Updating, InstanceState.Failed),
        (InstanceState.Degraded, InstanceState.Ready),
        (InstanceState.Degraded, InstanceState.Updating),
        (InstanceState.Degraded, InstanceState.Deprovisioning),
        (InstanceState.Failed, InstanceState.Provisioning),
        (InstanceState.Failed, InstanceState.Updating),
        (InstanceState.Failed, InstanceState.Deprovisioning),
        (InstanceState.Deprovisioning, InstanceState.Deleted),
        (InstanceState.Deprovisioning, InstanceState.Failed),
    ];

    public static TheoryData<InstanceState, InstanceState> AllowedMoves()
    {
        var data = new TheoryData<InstanceState, InstanceState>();
        foreach (var (from, to) in Allowed)
        {
            data.Add(from, to);
        }

        return data;
    }

    /// <summary>Every other pair of states, including staying in the same state.</summary>
    public static TheoryData<InstanceState, InstanceState> RefusedMoves()
    {
        var data = new TheoryData<InstanceState, InstanceState>();
        foreach (var from in Enum.GetValues<InstanceState>())
        {
            foreach (var to in Enum.GetValues<InstanceState>())
            {
                if (!Allowed.Contains((from, to)))
                {
                    data.Add(from, to);
                }
            }
        }

        return data;
    }

    private static readonly DateTimeOffset Created = new(2025, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = new(2025, 1, 2, 9, 30, 0, TimeSpan.Zero);

    /// <summary>An instance brought to <paramref name="state"/> through allowed moves.</summary>
    internal static Instance InstanceIn(InstanceState state)
    {
        InstanceState[] path = state switch
        {
            InstanceState.PendingApproval => [],
            InstanceState.Provisioning => [InstanceState.Provisioning],
            InstanceState.Ready => [InstanceState.Provisioning, InstanceState.Ready],
            InstanceState.Updating => [InstanceState.Provisioning, InstanceState.Ready, InstanceState.Updating],
            InstanceState.Degraded => [InstanceState.Provisioning, InstanceState.Ready, InstanceState.Degraded],
            InstanceState.Drifted => [InstanceState.Provisioning, InstanceState.Ready, InstanceState.Drifted],
            InstanceState.Failed => [InstanceState.Provisioning, InstanceState.Failed],
            InstanceState.Deprovisioning => [InstanceState.Provisioning, InstanceState.Ready, InstanceState.Deprovisioning],
            InstanceState.Deleted => [InstanceState.Provisioning, InstanceState.Ready, InstanceState.Deprovisioning, InstanceState.Deleted],
            InstanceState.Rejected => [InstanceState.Rejected],
            InstanceState.Expired => [InstanceState.Expired],
            _ => throw new ArgumentOutOfRangeException(nameof(state), state, "No path to this state in the test helper."),
        };
        var instance = new Instance { Name = "orders-db", CreatedAt = Created };
        foreach (var step in path)
        {
            instance.MoveTo(step, Created, $"moved to {step}");
        }

        Assert.Equal(state, instance.State);
        return instance;
    }

    [Theory]
    [MemberData(nameof(AllowedMoves))]
    public void CanMove_AllowedTransition_ReturnsTrue(InstanceState from, InstanceState to) =>
        Assert.True(InstanceStateMachine.CanMove(from, to), $"{from} -> {to} should be allowed");

    [Theory]
    [MemberData(nameof(RefusedMoves))]
    public void CanMove_RefusedTransition_ReturnsFalse(InstanceState from, InstanceState to) =>
        Assert.False(InstanceStateMachine.CanMove(from, to), $"{from} -> {to} should be refused");

    [Theory]
    [InlineData(InstanceState.Deleted, InstanceState.Provisioning)]
    [InlineData(InstanceState.Deleted, InstanceState.Ready)]
    [InlineData(InstanceState.Deleted, InstanceState.Deprovisioning)]
    [InlineData(InstanceState.Rejected, InstanceState.Provisioning)]
    [InlineData(InstanceState.Ready, InstanceState.Provisioning)]
    [InlineData(InstanceState.Provisioning, InstanceState.Deleted)]
    [InlineData(InstanceState.PendingApproval, InstanceState.Ready)]
    [InlineData(InstanceState.Ready, InstanceState.Deleted)]
    [InlineData(InstanceState.Failed, InstanceState.Ready)]
    public void CanMove_NotableRefusedTransition_ReturnsFalse(InstanceState from, InstanceState to) =>
        Assert.False(InstanceStateMachine.CanMove(from, to));

    [Fact]
    public void CanMove_EveryDefinedPair_DoesNotThrow()
    {
        // Each state needs an entry in the machine, or CanMove throws KeyNotFoundException for it.
        foreach (var from in Enum.GetValues<InstanceState>())
        {
            foreach (var to in Enum.GetValues<InstanceState>())
            {
                var ex = Record.Exception(() => InstanceStateMachine.CanMove(from, to));
                Assert.Null(ex);
            }
        }
    }

    [Fact]
    public void New_Instance_StartsPendingApprovalWithoutMessage()
    {
        var instance = new Instance { Name = "orders-db" };

        Assert.Equal(InstanceState.PendingApproval, instance.State);
        Assert.Null(instance.StatusMessage);
        Assert.Equal(default, instance.UpdatedAt);
    }

    [Theory]
    [MemberData(nameof(AllowedMoves))]
    public void MoveTo_AllowedTransition_SetsStateMessageAndUpdatedAt(InstanceState from, InstanceState to)
    {
        var instance = InstanceIn(from);

        instance.MoveTo(to, Now, "working on it");

        Assert.Equal(to, instance.State);
        Assert.Equal("working on it", instance.StatusMessage);
        Assert.Equal(Now, instance.UpdatedAt);
    }

    [Fact]
    public void MoveTo_WithoutMessage_ClearsPreviousStatusMessage()
    {
        var instance = InstanceIn(InstanceState.Provisioning);
        Assert.NotNull(instance.StatusMessage);

        instance.MoveTo(InstanceState.Ready, Now);

        Assert.Null(instance.StatusMessage);
    }

    [Theory]
    [MemberData(nameof(RefusedMoves))]
    public void MoveTo_RefusedTransition_ThrowsAndLeavesInstanceUnchanged(InstanceState from, InstanceState to)
    {
        var instance = InstanceIn(from);
        var messageBefore = instance.StatusMessage;
        var updatedBefore = instance.UpdatedAt;

        var ex = Assert.Throws<InvalidStateTransitionException>(() => instance.MoveTo(to, Now, "should not stick"));

        Assert.Equal(from, ex.From);
        Assert.Equal(to, ex.To);
        Assert.Equal($"Instance cannot go from {from} to {to}.", ex.Message);
        Assert.Equal(from, instance.State);
        Assert.Equal(messageBefore, instance.StatusMessage);
        Assert.Equal(updatedBefore, instance.UpdatedAt);
    }

    [Fact]
    public void InvalidStateTransitionException_IsAnInvalidOperationException() =>
        Assert.IsAssignableFrom<InvalidOperationException>(
            new InvalidStateTransitionException("Instance", InstanceState.Ready, InstanceState.Provisioning));

    [Theory]
    [InlineData(InstanceState.PendingApproval, false)]
    [InlineData(InstanceState.Provisioning, false)]
    [InlineData(InstanceState.Ready, false)]
    [InlineData(InstanceState.Updating, false)]
    [InlineData(InstanceState.Deprovisioning, false)]
    [InlineData(InstanceState.Deleted, true)]
    [InlineData(InstanceState.Rejected, true)]
    [InlineData(InstanceState.Expired, true)]
    [InlineData(InstanceState.Failed, false)]
    [InlineData(InstanceState.Degraded, false)]
    [InlineData(InstanceState.Drifted, false)]
    public void IsTerminal_EachState_MatchesLifeCycle(InstanceState state, bool expected) =>
        Assert.Equal(expected, state.IsTerminal());

    [Theory]
    [InlineData(InstanceState.PendingApproval, false)]
    [InlineData(InstanceState.Provisioning, true)]
    [InlineData(InstanceState.Ready, false)]
    [InlineData(InstanceState.Updating, true)]
    [InlineData(InstanceState.Deprovisioning, true)]
    [InlineData(InstanceState.Deleted, false)]
    [InlineData(InstanceState.Rejected, false)]
    [InlineData(InstanceState.Expired, false)]
    [InlineData(InstanceState.Failed, false)]
    [InlineData(InstanceState.Degraded, false)]
    [InlineData(InstanceState.Drifted, false)]
    public void IsBusy_EachState_TrueOnlyWhileAJobWorks(InstanceState state, bool expected) =>
        Assert.Equal(expected, state.IsBusy());

    [Theory]
    [InlineData(InstanceState.PendingApproval, false)]
    [InlineData(InstanceState.Provisioning, false)]
    [InlineData(InstanceState.Ready, true)]
    [InlineData(InstanceState.Updating, false)]
    [InlineData(InstanceState.Deprovisioning, false)]
    [InlineData(InstanceState.Deleted, false)]
    [InlineData(InstanceState.Rejected, false)]
    [InlineData(InstanceState.Expired, false)]
    [InlineData(InstanceState.Failed, false)]
    [InlineData(InstanceState.Degraded, true)]
    [InlineData(InstanceState.Drifted, false)]
    public void AcceptsBindings_EachState_TrueOnlyWhenUp(InstanceState state, bool expected) =>
        Assert.Equal(expected, state.AcceptsBindings());

    [Fact]
    public void StateTables_CoverEveryInstanceState()
    {
        // If a state is added to the enum, the tables above (and the life cycle) need a decision for it.
        Assert.Equal(11, Enum.GetValues<InstanceState>().Length);
    }
}
