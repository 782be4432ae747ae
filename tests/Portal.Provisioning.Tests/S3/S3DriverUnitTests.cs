using Portal.Provisioning.S3;

namespace Portal.Provisioning.Tests.S3;

/// <summary>The driver's pure parts: quota from plan limits, the S3 URL, Admin Ops URLs.</summary>
public sealed class S3DriverUnitTests
{
    private static readonly BackendEndpoint Backend = new("127.0.0.1", 7480, "PAKEY", "secret");

    [Fact]
    public void Quota_BothLimits_MegabytesAreMebibytes()
    {
        var quota = S3Driver.Quota(new Dictionary<string, int> { ["maxSizeMb"] = 5, ["maxObjects"] = 100 });

        Assert.Equal(new ObjectStoreQuota(5L * 1024 * 1024, 100), quota);
    }

    [Fact]
    public void Quota_NoLimitsOrMinusOne_Unlimited()
    {
        Assert.Equal(ObjectStoreQuota.None, S3Driver.Quota(new Dictionary<string, int>()));
        Assert.Equal(ObjectStoreQuota.None, S3Driver.Quota(new Dictionary<string, int> { ["maxSizeMb"] = -1, ["maxObjects"] = -1 }));
        Assert.Equal(new ObjectStoreQuota(null, 3), S3Driver.Quota(new Dictionary<string, int> { ["maxObjects"] = 3 }));
    }

    [Fact]
    public void Quota_LargestSize_DoesNotOverflow()
    {
        var quota = S3Driver.Quota(new Dictionary<string, int> { ["maxSizeMb"] = int.MaxValue });

        Assert.Equal(int.MaxValue * 1024L * 1024L, quota.MaxBytes);
    }

    [Fact]
    public void Quota_BelowMinusOne_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => S3Driver.Quota(new Dictionary<string, int> { ["maxObjects"] = -2 }));
    }

    [Fact]
    public void EndpointUrl_NoSetting_IsHttpHostPort()
    {
        Assert.Equal("http://127.0.0.1:7480/", S3Driver.EndpointUrl(Backend).AbsoluteUri);
        Assert.Equal("http://[::1]:7480/", S3Driver.EndpointUrl(Backend with { Host = "::1" }).AbsoluteUri);
    }

    [Fact]
    public void EndpointUrl_Setting_WinsOverHostAndPort()
    {
        var backend = Backend with { Settings = new Dictionary<string, string> { ["endpointUrl"] = "https://s3.dc1.example.com/" } };

        Assert.Equal("https://s3.dc1.example.com/", S3Driver.EndpointUrl(backend).AbsoluteUri);
    }

    [Theory]
    [InlineData("ftp://s3.example.com")]
    [InlineData("https://user:pw@s3.example.com")]
    [InlineData("https://s3.example.com/admin")]
    [InlineData("https://s3.example.com/?x=1")]
    [InlineData("not a url")]
    public void EndpointUrl_BadSetting_ThrowsInvalidOperation(string url)
    {
        var backend = Backend with { Settings = new Dictionary<string, string> { ["endpointUrl"] = url } };

        var e = Assert.Throws<InvalidOperationException>(() => S3Driver.EndpointUrl(backend));

        Assert.DoesNotContain("pw", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EndpointUrl_TlsBackend_IsHttpsHostPort()
    {
        var backend = Backend with { Settings = new Dictionary<string, string> { ["tls"] = "true" } };

        Assert.Equal("https://127.0.0.1:7480/", S3Driver.EndpointUrl(backend).AbsoluteUri);
    }

    [Fact]
    public void EndpointUrl_TlsBackendWithHttpSetting_ThrowsInvalidOperation()
    {
        var backend = Backend with
        {
            Settings = new Dictionary<string, string> { ["tls"] = "true", ["endpointUrl"] = "http://s3.dc1.example.com" },
        };

        var e = Assert.Throws<InvalidOperationException>(() => S3Driver.EndpointUrl(backend));

        Assert.Contains("not an https URL", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClientConfig_TlsBackend_HttpsWithOwnHttpClients()
    {
        using var ca = Portal.Provisioning.Certificates.CertificateAuthority.CreateRoot("Test CA", TimeSpan.FromDays(1));
        var backend = Backend with { Settings = new Dictionary<string, string> { ["tls"] = "true" }, PlatformCa = ca };

        var tls = S3Driver.ClientConfig(backend);
        var plain = S3Driver.ClientConfig(Backend);

        Assert.Equal("https://127.0.0.1:7480/", tls.ServiceURL);
        Assert.IsType<PlatformCaHttpClientFactory>(tls.HttpClientFactory);
        Assert.Equal("http://127.0.0.1:7480/", plain.ServiceURL);
        Assert.Null(plain.HttpClientFactory);
    }

    [Fact]
    public void ClientConfig_TlsBackendWithoutCa_ThrowsInvalidOperation()
    {
        var backend = Backend with { Settings = new Dictionary<string, string> { ["tls"] = "true" } };

        Assert.Throws<InvalidOperationException>(() => S3Driver.ClientConfig(backend));
    }

    [Fact]
    public void Region_NoSetting_IsUsEast1()
    {
        Assert.Equal("us-east-1", S3Driver.Region(Backend));
        Assert.Equal("eu-de", S3Driver.Region(Backend with { Settings = new Dictionary<string, string> { ["region"] = "eu-de" } }));
    }

    [Fact]
    public void AdminUri_FlagsAndValues_EscapedOnce()
    {
        var uri = RgwAdminOpsProvisioner.AdminUri(new Uri("http://127.0.0.1:7480/"), "user",
            [("quota", null), ("uid", "pi_ab$owner"), ("display-name", "Portal instance"), ("bucket", "t/b")]);

        Assert.Equal("/admin/user?quota&uid=pi_ab%24owner&display-name=Portal%20instance&bucket=t%2Fb", uri.PathAndQuery);
    }

    [Fact]
    public void UserId_Account_IsTenantDollarOwner()
    {
        Assert.Equal("pi_ab$owner", RgwAdminOpsProvisioner.UserId("pi_ab"));
    }

    [Fact]
    public void Fields_ListSettingsAndLimitsTheDriverReads()
    {
        var driver = S3Scope.NewDriver();

        Assert.Equal("s3", driver.Kind);
        Assert.Equal(["endpointUrl", "region"], driver.BackendSettings.Select(f => f.Name));
        Assert.Equal(["maxSizeMb", "maxObjects"], driver.PlanLimits.Select(f => f.Name));
    }

    [Fact]
    public void ClientConfig_ForRgw_PathStyleAndChecksumsWhenRequired()
    {
        var config = S3Driver.ClientConfig(new Uri("http://127.0.0.1:7480/"), "us-east-1");

        Assert.True(config.ForcePathStyle);
        Assert.Equal(Amazon.Runtime.RequestChecksumCalculation.WHEN_REQUIRED, config.RequestChecksumCalculation);
        Assert.Equal(Amazon.Runtime.ResponseChecksumValidation.WHEN_REQUIRED, config.ResponseChecksumValidation);
        Assert.Equal("us-east-1", config.AuthenticationRegion);
    }
}
