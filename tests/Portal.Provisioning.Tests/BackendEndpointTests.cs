namespace Portal.Provisioning.Tests;

/// <summary>The endpoint strings the ops/backends scripts write and the demo seed and tests read.</summary>
public sealed class BackendEndpointTests
{
    [Fact]
    public void Parse_CoreKeysAnyCase_SettingsKeepTheirCase()
    {
        var endpoint = BackendEndpoint.Parse("host=127.0.0.1;PORT=5672;AdminUser=portal-admin;adminpassword=s3cret;managementUrl=http://127.0.0.1:15672");

        Assert.Equal(("127.0.0.1", 5672, "portal-admin", "s3cret"), (endpoint.Host, endpoint.Port, endpoint.AdminUser, endpoint.AdminPassword));
        Assert.Equal("http://127.0.0.1:15672", endpoint.Setting("managementUrl"));
        Assert.Equal(["managementUrl"], endpoint.Settings.Keys);
    }

    [Fact]
    public void Parse_QuotedValue_MayHoldSemicolonsAndSpaces()
    {
        var endpoint = BackendEndpoint.Parse("Host=h;Port=1;AdminUser=u;AdminPassword='a;b';endpoints=\" x , y \"");

        Assert.Equal("a;b", endpoint.AdminPassword);
        Assert.Equal(" x , y ", endpoint.Setting("endpoints"));
    }

    [Theory]
    [InlineData("Host=h;AdminUser=u")]
    [InlineData("Host=h;Port=abc")]
    [InlineData("Host=h;Port=1;oops")]
    [InlineData("Host=h;Port=1;AdminPassword='unclosed")]
    public void Parse_Malformed_ThrowsFormatException(string text) =>
        Assert.Throws<FormatException>(() => BackendEndpoint.Parse(text));

    [Fact]
    public void ToString_NeverShowsThePassword() =>
        Assert.DoesNotContain("s3cret", BackendEndpoint.Parse("Host=h;Port=1;AdminUser=u;AdminPassword=s3cret").ToString());
}
