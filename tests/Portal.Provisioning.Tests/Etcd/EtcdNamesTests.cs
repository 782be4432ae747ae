using System.Net;
using System.Text;
using Portal.Provisioning.Etcd;

namespace Portal.Provisioning.Tests.Etcd;

/// <summary>The pure parts of the etcd driver: names, range ends, client URLs and error answers.</summary>
public sealed class EtcdNamesTests
{
    private static readonly Guid KnownId = Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E");
    private static readonly Guid OtherId = Guid.Parse("7C9E6679-7425-40DE-944B-E07FC1F90AE7");

    [Fact]
    public void KeyPrefix_KnownId_IsPortalFolderWithTrailingSlash()
    {
        Assert.Equal("/portal/0f8fad5bd9cb469fa16570867728950e/", EtcdNames.KeyPrefix(KnownId));
    }

    [Fact]
    public void Role_KnownId_IsPiPrefixedLowercaseHex()
    {
        Assert.Equal("pi_0f8fad5bd9cb469fa16570867728950e", EtcdNames.Role(KnownId));
    }

    [Fact]
    public void BindingUser_KnownIds_CarriesInstanceAndBindingId()
    {
        Assert.Equal("pb_0f8fad5bd9cb469fa16570867728950e_7c9e6679742540de944be07fc1f90ae7",
            EtcdNames.BindingUser(KnownId, OtherId));
        Assert.StartsWith(EtcdNames.BindingUsersOf(KnownId), EtcdNames.BindingUser(KnownId, Guid.NewGuid()), StringComparison.Ordinal);
        Assert.StartsWith(EtcdNames.BindingUserPrefix, EtcdNames.BindingUsersOf(KnownId), StringComparison.Ordinal);
    }

    [Fact]
    public void BindingUser_Generations_ZeroKeepsTheNameLaterOnesAppendG()
    {
        var first = EtcdNames.BindingUser(KnownId, OtherId);

        Assert.Equal(first, EtcdNames.BindingUser(KnownId, OtherId, 0));
        Assert.Equal(first + "_g1", EtcdNames.BindingUser(KnownId, OtherId, 1));
        Assert.Equal(first + "_g12", EtcdNames.BindingUser(KnownId, OtherId, 12));
        Assert.StartsWith(EtcdNames.BindingUsersOf(KnownId), EtcdNames.BindingUser(KnownId, OtherId, 3), StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => EtcdNames.BindingUser(KnownId, OtherId, -1));
    }

    [Fact]
    public void IsUserOfBinding_EveryGeneration_ButNoOtherBindingOrInstance()
    {
        Assert.True(EtcdNames.IsUserOfBinding(EtcdNames.BindingUser(KnownId, OtherId), KnownId, OtherId));
        Assert.True(EtcdNames.IsUserOfBinding(EtcdNames.BindingUser(KnownId, OtherId, 7), KnownId, OtherId));
        Assert.False(EtcdNames.IsUserOfBinding(EtcdNames.BindingUser(KnownId, Guid.NewGuid(), 7), KnownId, OtherId));
        Assert.False(EtcdNames.IsUserOfBinding(EtcdNames.BindingUser(OtherId, OtherId), KnownId, OtherId));
        Assert.False(EtcdNames.IsUserOfBinding(EtcdNames.BindingUser(KnownId, OtherId) + "x", KnownId, OtherId));
    }

    [Fact]
    public void BindingUsersOf_OneInstance_NeverMatchesAnotherInstancesUsers()
    {
        Assert.False(EtcdNames.BindingUser(OtherId, KnownId).StartsWith(EtcdNames.BindingUsersOf(KnownId), StringComparison.Ordinal));
    }

    [Fact]
    public void KeyPrefix_DifferentIds_NeitherRangeContainsTheOther()
    {
        var a = EtcdNames.KeyPrefix(KnownId);
        var b = EtcdNames.KeyPrefix(OtherId);
        Assert.False(b.StartsWith(a, StringComparison.Ordinal));
        Assert.False(a.StartsWith(b, StringComparison.Ordinal));
    }

    [Fact]
    public void PrefixRangeEnd_InstancePrefix_IncrementsTheTrailingSlash()
    {
        var prefix = EtcdNames.KeyPrefix(KnownId);

        Assert.Equal("/portal/0f8fad5bd9cb469fa16570867728950e0", Encoding.UTF8.GetString(EtcdNames.PrefixRangeEnd(prefix)));
    }

    [Theory]
    [InlineData(new byte[] { 0x61 }, new byte[] { 0x62 })]
    [InlineData(new byte[] { 0x61, 0xFF }, new byte[] { 0x62 })]
    [InlineData(new byte[] { 0x61, 0xFE, 0xFF, 0xFF }, new byte[] { 0x61, 0xFF })]
    [InlineData(new byte[] { 0xFF, 0xFF }, new byte[] { 0x00 })]
    [InlineData(new byte[0], new byte[] { 0x00 })]
    public void PrefixRangeEnd_Bytes_IsFirstKeyAfterEveryKeyWithThePrefix(byte[] prefix, byte[] expected)
    {
        Assert.Equal(expected, EtcdNames.PrefixRangeEnd(prefix));
    }

    [Fact]
    public void ClientUrls_HostAndPortOnly_IsOneHttpUrl()
    {
        var backend = new BackendEndpoint("127.0.0.1", 2379, "root", "pw");

        Assert.Equal(["http://127.0.0.1:2379"], EtcdGateway.ClientUrls(backend));
    }

    [Fact]
    public void ClientUrls_EndpointsSetting_AppendedNormalizedWithoutDuplicates()
    {
        var backend = BackendEndpoint.Parse(
            "Host=10.0.0.1;Port=2379;AdminUser=root;AdminPassword=pw;endpoints=' http://10.0.0.1:2379/ , 10.0.0.2:2379,https://etcd3.example:2379,'");

        Assert.Equal(
            ["http://10.0.0.1:2379", "http://10.0.0.2:2379", "https://etcd3.example:2379"],
            EtcdGateway.ClientUrls(backend));
    }

    [Fact]
    public void ClientUrls_TlsBackend_BareEntriesAreHttps()
    {
        var backend = BackendEndpoint.Parse("Host=10.0.0.1;Port=2379;AdminUser=root;AdminPassword=pw;tls=true;endpoints=10.0.0.2:2379");

        Assert.Equal(["https://10.0.0.1:2379", "https://10.0.0.2:2379"], EtcdGateway.ClientUrls(backend));
    }

    [Fact]
    public void ClientUrls_TlsBackendWithHttpEndpoint_ThrowsFormatException()
    {
        var backend = BackendEndpoint.Parse("Host=10.0.0.1;Port=2379;AdminUser=root;AdminPassword=pw;tls=true;endpoints=http://10.0.0.2:2379");

        var e = Assert.Throws<FormatException>(() => EtcdGateway.ClientUrls(backend));
        Assert.Contains("serves TLS", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClientUrls_Ipv6Host_IsBracketed()
    {
        Assert.Equal(["http://[::1]:2379"], EtcdGateway.ClientUrls(new BackendEndpoint("::1", 2379, "root", "pw")));
    }

    [Theory]
    [InlineData("ftp://10.0.0.2:2379")]
    [InlineData("http://10.0.0.2:2379/v3")]
    [InlineData("http://user:secret@10.0.0.2:2379")]
    public void ClientUrls_BadEndpoint_ThrowsFormatException(string entry)
    {
        var backend = new BackendEndpoint("127.0.0.1", 2379, "root", "pw")
        {
            Settings = new Dictionary<string, string> { [EtcdDriver.EndpointsSetting] = entry },
        };

        Assert.Throws<FormatException>(() => EtcdGateway.ClientUrls(backend));
    }

    [Fact]
    public void FromResponse_EtcdErrorBody_ReadsCodeAndMessage()
    {
        var e = EtcdException.FromResponse(HttpStatusCode.PreconditionFailed,
            """{"error":"etcdserver: role name already exists","message":"etcdserver: role name already exists","code":9}""");

        Assert.Equal(9, e.Code);
        Assert.Equal("etcdserver: role name already exists", e.Message);
        Assert.True(e.IsAlreadyExists);
        Assert.False(e.IsStaleToken);
    }

    [Theory]
    [InlineData(16, "etcdserver: invalid auth token")]
    [InlineData(3, "etcdserver: revision of auth store is old")]
    public void FromResponse_TokenErrors_AreStale(int code, string message)
    {
        var e = EtcdException.FromResponse(HttpStatusCode.Unauthorized, $$"""{"message":"{{message}}","code":{{code}}}""");

        Assert.True(e.IsStaleToken);
    }

    [Fact]
    public void FromResponse_NotJson_KeepsStatusAndExcerpt()
    {
        var e = EtcdException.FromResponse(HttpStatusCode.NotFound, "404 page not found");

        Assert.Equal(EtcdException.UnknownCode, e.Code);
        Assert.Contains("404", e.Message, StringComparison.Ordinal);
        Assert.Contains("page not found", e.Message, StringComparison.Ordinal);
    }
}
