using Portal.Domain.Bindings;
using Portal.Domain.Instances;

namespace Portal.Domain.Tests;

public sealed class BindingTests
{
    private static readonly (BindingState From, BindingState To)[] Allowed =
    [
        (BindingState.Creating, BindingState.Ready),
        (BindingState.Creating, BindingState.Failed),
        (BindingState.Ready, BindingState.Deleting),
        (BindingState.Failed, BindingState.Creating),
        (BindingState.Failed, BindingState.Deleting),
        (BindingState.Deleting, BindingState.Deleted),
        (BindingState.Deleting, BindingState.Failed),
    ];

    public static TheoryData<BindingState, BindingState> AllowedMoves()
    {
        var data = new TheoryData<BindingState, BindingState>();
        foreach (var (from, to) in Allowed)
        {
            data.Add(from, to);
        }

        return data;
    }

    public static TheoryData<BindingState, BindingState> RefusedMoves()
    {
        var data = new TheoryData<BindingState, BindingState>();
        foreach (var from in Enum.GetValues<BindingState>())
        {
            foreach (var to in Enum.GetValues<BindingState>())
            {
                if (!Allowed.Contains((from, to)))
                {
                    data.Add(from, to);
                }
            }
        }

        return data;
    }

    private static readonly DateTimeOffset Created = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = new(2025, 3, 1, 12, 5, 0, TimeSpan.Zero);

    private static Binding BindingIn(BindingState state)
    {
        BindingState[] path = state switch
        {
            BindingState.Creating => [],
            BindingState.Ready => [BindingState.Ready],
            BindingState.Failed => [BindingState.Failed],
            BindingState.Deleting => [BindingState.Ready, BindingState.Deleting],
            BindingState.Deleted => [BindingState.Ready, BindingState.Deleting, BindingState.Deleted],
            _ => throw new ArgumentOutOfRangeException(nameof(state), state, "No path to this state in the test helper."),
        };
        var binding = new Binding { AppName = "billing", InstanceId = Guid.NewGuid(), CreatedAt = Created };
        foreach (var step in path)
        {
            binding.MoveTo(step, Created, $"moved to {step}");
        }

        Assert.Equal(state, binding.State);
        return binding;
    }

    [Fact]
    public void New_Binding_StartsCreating() =>
        Assert.Equal(BindingState.Creating, new Binding { AppName = "billing" }.State);

    [Theory]
    [MemberData(nameof(AllowedMoves))]
    public void CanMove_AllowedTransition_ReturnsTrue(BindingState from, BindingState to) =>
        Assert.True(Binding.CanMove(from, to), $"{from} -> {to} should be allowed");

    [Theory]
    [MemberData(nameof(RefusedMoves))]
    public void CanMove_RefusedTransition_ReturnsFalse(BindingState from, BindingState to) =>
        Assert.False(Binding.CanMove(from, to), $"{from} -> {to} should be refused");

    [Theory]
    [MemberData(nameof(AllowedMoves))]
    public void MoveTo_AllowedTransition_SetsStateMessageAndUpdatedAt(BindingState from, BindingState to)
    {
        var binding = BindingIn(from);

        binding.MoveTo(to, Now, "credentials on their way");

        Assert.Equal(to, binding.State);
        Assert.Equal("credentials on their way", binding.StatusMessage);
        Assert.Equal(Now, binding.UpdatedAt);
    }

    [Theory]
    [MemberData(nameof(RefusedMoves))]
    public void MoveTo_RefusedTransition_ThrowsAndLeavesBindingUnchanged(BindingState from, BindingState to)
    {
        var binding = BindingIn(from);
        var messageBefore = binding.StatusMessage;
        var updatedBefore = binding.UpdatedAt;

        var ex = Assert.Throws<InvalidStateTransitionException>(() => binding.MoveTo(to, Now, "should not stick"));

        Assert.Equal(from, ex.From);
        Assert.Equal(to, ex.To);
        Assert.Equal($"Binding cannot go from {from} to {to}.", ex.Message);
        Assert.Equal(from, binding.State);
        Assert.Equal(messageBefore, binding.StatusMessage);
        Assert.Equal(updatedBefore, binding.UpdatedAt);
    }

    private static Binding ReadyBinding()
    {
        var binding = new Binding { InstanceId = Guid.NewGuid(), AppName = "orders-api" };
        binding.MoveTo(BindingState.Ready, Now);
        return binding;
    }

    [Fact]
    public void Rotated_MakesTheNextGenerationCurrent_AndKeepsThePreviousUntilTheOverlapEnds()
    {
        var binding = ReadyBinding();
        Assert.Null(binding.RotatedAt);
        binding.Rotated(Now, TimeSpan.FromMinutes(30));
        Assert.Equal(1, binding.Generation);
        Assert.Equal(0, binding.RetiringGeneration);
        Assert.Equal(Now.AddMinutes(30), binding.RetireAt);
        Assert.Equal(Now, binding.RotatedAt);

        binding.RetiringReadTokenHash = new string('a', 64);
        binding.Retired(Now.AddMinutes(30));
        Assert.Equal(1, binding.Generation);
        Assert.Null(binding.RetiringGeneration);
        Assert.Null(binding.RetireAt);
        Assert.Null(binding.RetiringReadTokenHash);
    }

    [Fact]
    public void Rotated_RefusesASecondOverlap_ANegativeOne_AndABindingThatIsNotReady()
    {
        var binding = ReadyBinding();
        binding.Rotated(Now, TimeSpan.FromHours(1));
        Assert.Throws<InvalidOperationException>(() => binding.Rotated(Now, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReadyBinding().Rotated(Now, TimeSpan.FromMinutes(-1)));

        var creating = new Binding { InstanceId = Guid.NewGuid(), AppName = "x" };
        Assert.Throws<InvalidOperationException>(() => creating.Rotated(Now, TimeSpan.Zero));
        Assert.Equal(0, creating.Generation);
    }
}
