using System.Text.RegularExpressions;
using Portal.Provisioning.Redis;

namespace Portal.Provisioning.Tests.Redis;

public sealed partial class RedisNamesTests
{
    private static readonly Guid KnownId = Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E");

    // No glob metacharacters (* ? [ ] \) and no spaces: safe in SCAN MATCH and in ACL rules unescaped.
    [GeneratedRegex("^[a-z0-9-]+$")]
    private static partial Regex GlobSafe();

    [Fact]
    public void Prefix_KnownId_IsPiDashLowercaseHexColon()
    {
        Assert.Equal("pi-0f8fad5bd9cb469fa16570867728950e:", RedisNames.Prefix(KnownId));
    }

    [Fact]
    public void Pattern_KnownId_IsPrefixAndStar()
    {
        Assert.Equal("pi-0f8fad5bd9cb469fa16570867728950e:*", RedisNames.Pattern(KnownId));
    }

    [Fact]
    public void InstanceUser_KnownId_IsPrefixWithoutColon()
    {
        Assert.Equal("pi-0f8fad5bd9cb469fa16570867728950e", RedisNames.InstanceUser(KnownId));
    }

    [Fact]
    public void BindingUser_KnownId_IsPbDashLowercaseHex()
    {
        Assert.Equal("pb-0f8fad5bd9cb469fa16570867728950e", RedisNames.BindingUser(KnownId));
    }

    [Fact]
    public void BindingUser_LaterGeneration_AppendsDashG()
    {
        Assert.Equal("pb-0f8fad5bd9cb469fa16570867728950e", RedisNames.BindingUser(KnownId, 0));
        Assert.Equal("pb-0f8fad5bd9cb469fa16570867728950e-g1", RedisNames.BindingUser(KnownId, 1));
        Assert.Equal("pb-0f8fad5bd9cb469fa16570867728950e-g12", RedisNames.BindingUser(KnownId, 12));
        Assert.Throws<ArgumentOutOfRangeException>(() => RedisNames.BindingUser(KnownId, -1));
    }

    [Theory]
    [InlineData("pb-0f8fad5bd9cb469fa16570867728950e", true)]
    [InlineData("pb-0f8fad5bd9cb469fa16570867728950e-g1", true)]
    [InlineData("pb-0f8fad5bd9cb469fa16570867728950e-g42", true)]
    [InlineData("pb-0f8fad5bd9cb469fa16570867728950e-g", false)]
    [InlineData("pb-0f8fad5bd9cb469fa16570867728950e-gx", false)]
    [InlineData("pb-0f8fad5bd9cb469fa16570867728950e1", false)]
    [InlineData("pb-0f8fad5bd9cb469fa16570867728950f", false)]
    [InlineData("pi-0f8fad5bd9cb469fa16570867728950e", false)]
    public void IsUserOfBinding_Name_TrueForEveryGenerationOnly(string user, bool expected)
    {
        Assert.Equal(expected, RedisNames.IsUserOfBinding(user, KnownId));
    }

    [Fact]
    public void BindingUsersOf_LaterGeneration_FoundByPrefixAndPattern()
    {
        var mine = RedisNames.Pattern(KnownId);
        var user = RedisNames.BindingUser(Guid.NewGuid(), 3);

        Assert.Equal([user], RedisAcl.BindingUsersOf([$"user {user} on #aa ~{mine} resetchannels &{mine} +@all"], KnownId));
    }

    [Fact]
    public void AllNames_AnyId_AreGlobSafe()
    {
        foreach (var id in new[] { Guid.NewGuid(), Guid.Empty, Guid.AllBitsSet, KnownId })
        {
            Assert.Matches(GlobSafe(), RedisNames.Prefix(id).TrimEnd(':'));
            Assert.EndsWith(":", RedisNames.Prefix(id), StringComparison.Ordinal);
            Assert.Matches(GlobSafe(), RedisNames.InstanceUser(id));
            Assert.Matches(GlobSafe(), RedisNames.BindingUser(id));
            Assert.Matches(GlobSafe(), RedisNames.BindingUser(id, 7));
        }
    }

    [Fact]
    public void AllNames_DifferentIds_DifferAndNoPrefixStartsAnother()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        Assert.NotEqual(RedisNames.Prefix(a), RedisNames.Prefix(b));
        Assert.False(RedisNames.Prefix(a).StartsWith(RedisNames.Prefix(b), StringComparison.Ordinal));
        Assert.NotEqual(RedisNames.InstanceUser(a), RedisNames.BindingUser(a));
        Assert.NotEqual(RedisNames.BindingUser(a), RedisNames.BindingUser(b));
        Assert.StartsWith(RedisNames.BindingUserPrefix, RedisNames.BindingUser(a), StringComparison.Ordinal);
    }

    [Fact]
    public void PasswordHash_KnownPassword_IsLowercaseSha256Hex()
    {
        Assert.Equal("5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", RedisAcl.PasswordHash("password"));
    }

    [Fact]
    public void BindingUserRules_KnownId_ResetThenPasswordHashThenScope()
    {
        var rules = RedisAcl.BindingUserRules(KnownId, "abc");

        Assert.Equal(["reset", "on", "#abc", "sanitize-payload"], rules.Take(4));
        Assert.Contains("~pi-0f8fad5bd9cb469fa16570867728950e:*", rules);
        Assert.Contains("&pi-0f8fad5bd9cb469fa16570867728950e:*", rules);
        Assert.Equal(RedisAcl.CommandRules, rules.TakeLast(RedisAcl.CommandRules.Count));
        Assert.DoesNotContain(rules, r => r.StartsWith('>'));
    }

    [Fact]
    public void ConvergeRules_KnownId_KeepPasswordAndOnOffState()
    {
        var rules = RedisAcl.ConvergeRules(KnownId);

        Assert.DoesNotContain(rules, r => r is "reset" or "on" or "off" or "resetpass" or "nopass"
            || r.StartsWith('#') || r.StartsWith('>') || r.StartsWith('<'));
        Assert.Equal(RedisAcl.CommandRules, rules.TakeLast(RedisAcl.CommandRules.Count));
    }

    [Fact]
    public void CommandRules_StartWithAllButDangerous_ThenCloseTheLeaks()
    {
        Assert.Equal(["+@all", "-@dangerous"], RedisAcl.CommandRules.Take(2));
        foreach (var rule in new[] { "-scan", "-randomkey", "-dbsize", "-select", "-move", "-copy", "-pubsub",
            "-function", "-script|flush", "-client|tracking", "-memory" })
        {
            Assert.Contains(rule, RedisAcl.CommandRules);
        }
    }

    [Fact]
    public void InstanceUserRules_KnownId_HaveNoPasswordOrCommands()
    {
        Assert.Equal(
            ["reset", "~pi-0f8fad5bd9cb469fa16570867728950e:*", "&pi-0f8fad5bd9cb469fa16570867728950e:*"],
            RedisAcl.InstanceUserRules(KnownId));
    }

    [Fact]
    public void BindingUsersOf_AclList_ReturnsOnlyBindingUsersWithTheInstancePattern()
    {
        var mine = RedisNames.Pattern(KnownId);
        var other = RedisNames.Pattern(Guid.NewGuid());
        string[] lines =
        [
            "user admin on #aa ~* &* +@all",
            "user default off resetchannels -@all",
            $"user {RedisNames.InstanceUser(KnownId)} off sanitize-payload ~{mine} resetchannels &{mine} -@all",
            $"user pb-1 on sanitize-payload #bb ~{mine} resetchannels &{mine} +@all -@dangerous",
            $"user pb-2 on sanitize-payload #cc ~{other} resetchannels &{other} +@all -@dangerous",
            $"user pb-3 on #dd ~{mine}x resetchannels &{mine} +@all",
            $"user someone on #ee ~{mine} +@all",
            $"user pb-4 off ~{mine}",
        ];

        Assert.Equal(["pb-1", "pb-4"], RedisAcl.BindingUsersOf(lines, KnownId));
    }
}
