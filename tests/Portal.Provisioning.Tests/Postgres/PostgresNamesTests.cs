using System.Text.RegularExpressions;
using Portal.Provisioning.Postgres;

namespace Portal.Provisioning.Tests.Postgres;

public sealed partial class PostgresNamesTests
{
    private static readonly Guid KnownId = Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E");

    [GeneratedRegex("^[a-z_][a-z0-9_]*$")]
    private static partial Regex UnquotedIdentifier();

    [Fact]
    public void Database_KnownId_IsPiPrefixedLowercaseHex()
    {
        Assert.Equal("pi_0f8fad5bd9cb469fa16570867728950e", PostgresNames.Database(KnownId));
    }

    [Fact]
    public void OwnerRole_KnownId_IsDatabaseNameWithOwnerSuffix()
    {
        Assert.Equal("pi_0f8fad5bd9cb469fa16570867728950e_owner", PostgresNames.OwnerRole(KnownId));
    }

    [Fact]
    public void BindingRole_KnownId_IsPbPrefixedLowercaseHex()
    {
        Assert.Equal("pb_0f8fad5bd9cb469fa16570867728950e", PostgresNames.BindingRole(KnownId));
    }

    [Fact]
    public void AllNames_SameIdTwice_AreStable()
    {
        var id = Guid.NewGuid();
        Assert.Equal(PostgresNames.Database(id), PostgresNames.Database(new Guid(id.ToString())));
        Assert.Equal(PostgresNames.OwnerRole(id), PostgresNames.OwnerRole(new Guid(id.ToString())));
        Assert.Equal(PostgresNames.BindingRole(id), PostgresNames.BindingRole(new Guid(id.ToString())));
    }

    [Fact]
    public void AllNames_AnyId_AreLowercaseValidIdentifiersUnder63Chars()
    {
        foreach (var id in new[] { Guid.NewGuid(), Guid.Empty, Guid.AllBitsSet, KnownId })
        {
            foreach (var name in new[] { PostgresNames.Database(id), PostgresNames.OwnerRole(id), PostgresNames.BindingRole(id) })
            {
                Assert.Matches(UnquotedIdentifier(), name);
                Assert.Equal(name.ToLowerInvariant(), name);
                Assert.InRange(name.Length, 1, 62);
            }
        }
    }

    [Fact]
    public void AllNames_DifferentIds_Differ()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        Assert.NotEqual(PostgresNames.Database(a), PostgresNames.Database(b));
        Assert.NotEqual(PostgresNames.OwnerRole(a), PostgresNames.OwnerRole(b));
        Assert.NotEqual(PostgresNames.BindingRole(a), PostgresNames.BindingRole(b));
        Assert.NotEqual(PostgresNames.Database(a), PostgresNames.OwnerRole(a));
    }

    [Fact]
    public void BindingRole_AnyId_StartsWithBindingRolePrefix()
    {
        Assert.StartsWith(PostgresNames.BindingRolePrefix, PostgresNames.BindingRole(Guid.NewGuid()), StringComparison.Ordinal);
    }

    [Fact]
    public void BindingRole_Generations_ZeroKeepsTodaysNameLaterAppendGeneration()
    {
        Assert.Equal(PostgresNames.BindingRole(KnownId), PostgresNames.BindingRole(KnownId, 0));
        Assert.Equal("pb_0f8fad5bd9cb469fa16570867728950e_g1", PostgresNames.BindingRole(KnownId, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PostgresNames.BindingRole(KnownId, -1));
    }

    [Fact]
    public void BindingRole_LargestGeneration_IsValidIdentifierUnder63Chars()
    {
        var name = PostgresNames.BindingRole(Guid.AllBitsSet, int.MaxValue);

        Assert.Matches(UnquotedIdentifier(), name);
        Assert.InRange(name.Length, 1, 62);
        Assert.StartsWith(PostgresNames.BindingRole(Guid.AllBitsSet), name, StringComparison.Ordinal);
    }
}
