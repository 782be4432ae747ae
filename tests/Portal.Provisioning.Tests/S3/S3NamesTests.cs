using System.Text.RegularExpressions;
using Portal.Provisioning.S3;

namespace Portal.Provisioning.Tests.S3;

public sealed partial class S3NamesTests
{
    private static readonly Guid KnownId = Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E");

    // RGW tenant names: letters, digits and underscores only.
    [GeneratedRegex("^[a-z0-9_]+$")]
    private static partial Regex TenantSafe();

    // S3 bucket names: 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit.
    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketSafe();

    [GeneratedRegex("^[A-Z0-9]+$")]
    private static partial Regex KeyIdSafe();

    [Fact]
    public void Account_KnownId_IsPiUnderscoreLowercaseHex()
    {
        Assert.Equal("pi_0f8fad5bd9cb469fa16570867728950e", S3Names.Account(KnownId));
    }

    [Fact]
    public void Bucket_KnownId_IsPiDashLowercaseHex()
    {
        Assert.Equal("pi-0f8fad5bd9cb469fa16570867728950e", S3Names.Bucket(KnownId));
    }

    [Fact]
    public void AccessKeyIds_KnownId_AreUppercaseHexWithDistinctPrefixes()
    {
        Assert.Equal("PB0F8FAD5BD9CB469FA16570867728950E", S3Names.BindingAccessKeyId(KnownId));
        Assert.Equal("PI0F8FAD5BD9CB469FA16570867728950E", S3Names.ProvisioningAccessKeyId(KnownId));
    }

    [Fact]
    public void BindingAccessKeyId_LaterGeneration_AppendsG()
    {
        Assert.Equal("PB0F8FAD5BD9CB469FA16570867728950E", S3Names.BindingAccessKeyId(KnownId, 0));
        Assert.Equal("PB0F8FAD5BD9CB469FA16570867728950EG1", S3Names.BindingAccessKeyId(KnownId, 1));
        Assert.Equal("PB0F8FAD5BD9CB469FA16570867728950EG12", S3Names.BindingAccessKeyId(KnownId, 12));
        Assert.Throws<ArgumentOutOfRangeException>(() => S3Names.BindingAccessKeyId(KnownId, -1));
    }

    [Theory]
    [InlineData("PB0F8FAD5BD9CB469FA16570867728950E", true)]
    [InlineData("PB0F8FAD5BD9CB469FA16570867728950EG1", true)]
    [InlineData("PB0F8FAD5BD9CB469FA16570867728950EG42", true)]
    [InlineData("PB0F8FAD5BD9CB469FA16570867728950EG", false)]
    [InlineData("PB0F8FAD5BD9CB469FA16570867728950EGX", false)]
    [InlineData("PB0F8FAD5BD9CB469FA16570867728950E1", false)]
    [InlineData("PB0F8FAD5BD9CB469FA16570867728950F", false)]
    [InlineData("PI0F8FAD5BD9CB469FA16570867728950E", false)]
    public void IsKeyOfBinding_KeyId_TrueForEveryGenerationOnly(string keyId, bool expected)
    {
        Assert.Equal(expected, S3Names.IsKeyOfBinding(keyId, KnownId));
    }

    [Fact]
    public void AllNames_AnyId_AreValidWhereTheyGo()
    {
        foreach (var id in new[] { Guid.NewGuid(), Guid.Empty, Guid.AllBitsSet, KnownId })
        {
            Assert.Matches(TenantSafe(), S3Names.Account(id));
            Assert.Matches(BucketSafe(), S3Names.Bucket(id));
            Assert.Matches(KeyIdSafe(), S3Names.BindingAccessKeyId(id));
            Assert.Matches(KeyIdSafe(), S3Names.BindingAccessKeyId(id, 9));
            Assert.Matches(KeyIdSafe(), S3Names.ProvisioningAccessKeyId(id));
            Assert.Equal(Uri.EscapeDataString(S3Names.Account(id)), S3Names.Account(id));
        }
    }

    [Fact]
    public void AllNames_DifferentIds_Differ()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        Assert.NotEqual(S3Names.Account(a), S3Names.Account(b));
        Assert.NotEqual(S3Names.Bucket(a), S3Names.Bucket(b));
        Assert.NotEqual(S3Names.BindingAccessKeyId(a), S3Names.BindingAccessKeyId(b));
        // A binding and an instance with the same id still get different keys.
        Assert.NotEqual(S3Names.BindingAccessKeyId(a), S3Names.ProvisioningAccessKeyId(a));
    }

    [Fact]
    public void AllNames_SameIdTwice_AreStable()
    {
        var id = Guid.NewGuid();
        var copy = new Guid(id.ToString());
        Assert.Equal(S3Names.Account(id), S3Names.Account(copy));
        Assert.Equal(S3Names.Bucket(id), S3Names.Bucket(copy));
        Assert.Equal(S3Names.BindingAccessKeyId(id), S3Names.BindingAccessKeyId(copy));
    }
}
