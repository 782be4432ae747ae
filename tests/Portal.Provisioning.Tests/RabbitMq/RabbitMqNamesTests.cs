using System.Text.RegularExpressions;
using Portal.Provisioning.RabbitMq;

namespace Portal.Provisioning.Tests.RabbitMq;

public sealed partial class RabbitMqNamesTests
{
    private static readonly Guid InstanceId = Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E");
    private static readonly Guid BindingId = Guid.Parse("7C9E6679-7425-40DE-944B-E07FC1F90AE7");

    [GeneratedRegex("^[a-z0-9_]+$")]
    private static partial Regex PlainName();

    [Fact]
    public void Vhost_KnownId_IsPiPrefixedLowercaseHex()
    {
        Assert.Equal("pi_0f8fad5bd9cb469fa16570867728950e", RabbitMqNames.Vhost(InstanceId));
    }

    [Fact]
    public void BindingUser_KnownIds_IsInstancePrefixThenBindingHex()
    {
        Assert.Equal("pb_0f8fad5bd9cb469fa16570867728950e_7c9e6679742540de944be07fc1f90ae7",
            RabbitMqNames.BindingUser(InstanceId, BindingId));
    }

    [Fact]
    public void BindingUser_LaterGeneration_AppendsGenerationToGenerationZeroName()
    {
        var first = RabbitMqNames.BindingUser(InstanceId, BindingId);

        Assert.Equal(first, RabbitMqNames.BindingUser(InstanceId, BindingId, 0));
        Assert.Equal(first + "_g1", RabbitMqNames.BindingUser(InstanceId, BindingId, 1));
        Assert.Equal(first + "_g12", RabbitMqNames.BindingUser(InstanceId, BindingId, 12));
        Assert.StartsWith(RabbitMqNames.BindingUserPrefix(InstanceId), RabbitMqNames.BindingUser(InstanceId, BindingId, 3), StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => RabbitMqNames.BindingUser(InstanceId, BindingId, -1));
    }

    [Fact]
    public void IsBindingUser_EveryGenerationOfThisBindingOnly()
    {
        Assert.True(RabbitMqNames.IsBindingUser(RabbitMqNames.BindingUser(InstanceId, BindingId), InstanceId, BindingId));
        Assert.True(RabbitMqNames.IsBindingUser(RabbitMqNames.BindingUser(InstanceId, BindingId, 7), InstanceId, BindingId));
        Assert.False(RabbitMqNames.IsBindingUser(RabbitMqNames.BindingUser(InstanceId, Guid.NewGuid(), 1), InstanceId, BindingId));
        Assert.False(RabbitMqNames.IsBindingUser(RabbitMqNames.BindingUser(Guid.NewGuid(), BindingId), InstanceId, BindingId));
        Assert.False(RabbitMqNames.IsBindingUser(RabbitMqNames.BindingUser(InstanceId, BindingId) + "_gx", InstanceId, BindingId));
        Assert.False(RabbitMqNames.IsBindingUser(RabbitMqNames.BindingUser(InstanceId, BindingId) + "x", InstanceId, BindingId));
    }

    [Fact]
    public void BindingUser_AnyBinding_StartsWithItsInstancesPrefixOnly()
    {
        var user = RabbitMqNames.BindingUser(InstanceId, Guid.NewGuid());

        Assert.StartsWith(RabbitMqNames.BindingUserPrefix(InstanceId), user, StringComparison.Ordinal);
        // The prefix ends with '_', so one instance's prefix never matches another instance's users.
        Assert.False(user.StartsWith(RabbitMqNames.BindingUserPrefix(Guid.NewGuid()), StringComparison.Ordinal));
        Assert.EndsWith("_", RabbitMqNames.BindingUserPrefix(InstanceId), StringComparison.Ordinal);
    }

    [Fact]
    public void AllNames_AnyId_ArePlainLowercaseAndShort()
    {
        foreach (var id in new[] { Guid.NewGuid(), Guid.Empty, Guid.AllBitsSet, InstanceId })
        {
            foreach (var name in new[] { RabbitMqNames.Vhost(id), RabbitMqNames.BindingUser(id, id), RabbitMqNames.BindingUser(InstanceId, id), RabbitMqNames.BindingUser(id, id, int.MaxValue) })
            {
                Assert.Matches(PlainName(), name);
                // AMQP short strings (user and vhost in connection.open) hold at most 255 bytes.
                Assert.InRange(name.Length, 1, 255);
                Assert.Equal(Uri.EscapeDataString(name), name);
            }
        }
    }

    [Fact]
    public void AllNames_DifferentIds_Differ()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        Assert.NotEqual(RabbitMqNames.Vhost(a), RabbitMqNames.Vhost(b));
        Assert.NotEqual(RabbitMqNames.BindingUser(a, a), RabbitMqNames.BindingUser(a, b));
        Assert.NotEqual(RabbitMqNames.BindingUser(a, b), RabbitMqNames.BindingUser(b, a));
    }

    [Fact]
    public void AllNames_SameIdTwice_AreStable()
    {
        var id = Guid.NewGuid();
        var copy = new Guid(id.ToString());
        Assert.Equal(RabbitMqNames.Vhost(id), RabbitMqNames.Vhost(copy));
        Assert.Equal(RabbitMqNames.BindingUser(id, id), RabbitMqNames.BindingUser(copy, copy));
    }
}
