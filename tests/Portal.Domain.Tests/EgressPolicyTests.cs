using System.Net;
using Portal.Domain.Egress;

namespace Portal.Domain.Tests;

public sealed class EgressPolicyTests
{
    private static readonly Dictionary<IPAddress, string> NoneProtected = [];

    public static TheoryData<string, string> DeniedAddresses() => new()
    {
        { "127.0.0.1", "loopback" },
        { "127.255.255.254", "loopback" },
        { "::1", "loopback" },
        { "::ffff:127.0.0.1", "loopback" },
        { "::ffff:7f00:1", "loopback" },
        { "169.254.169.254", "link-local" },
        { "::ffff:169.254.169.254", "link-local" },
        { "fe80::1", "link-local" },
        { "febf::1", "link-local" },
        { "10.0.0.1", "private" },
        { "10.255.255.255", "private" },
        { "172.16.0.1", "private" },
        { "172.31.255.255", "private" },
        { "192.168.1.1", "private" },
        { "::ffff:192.168.1.1", "private" },
        { "100.64.0.1", "shared (CGNAT)" },
        { "100.127.255.255", "shared (CGNAT)" },
        { "fc00::1", "unique-local" },
        { "fd12:3456::1", "unique-local" },
        { "224.0.0.1", "multicast" },
        { "239.255.255.250", "multicast" },
        { "ff02::1", "multicast" },
        { "0.0.0.0", "unspecified" },
        { "0.1.2.3", "unspecified" },
        { "::", "unspecified" },
        { "255.255.255.255", "reserved" },
        { "::127.0.0.1", "loopback (in IPv6)" }, // IPv4-compatible
        { "64:ff9b::a9fe:a9fe", "link-local (in IPv6)" }, // NAT64 of 169.254.169.254
        { "2002:7f00:1::", "loopback (in IPv6)" }, // 6to4 of 127.0.0.1
        { "2002:0a00:0001::1", "private (in IPv6)" }, // 6to4 of 10.0.0.1
    };

    [Theory]
    [MemberData(nameof(DeniedAddresses))]
    public void Classify_AddressInsideThePlatform_NamesItsRange(string address, string range) =>
        Assert.Equal(range, EgressAddress.Classify(IPAddress.Parse(address))?.Name);

    [Theory]
    [InlineData("93.184.215.14")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")] // just past 172.16/12
    [InlineData("100.128.0.1")] // just past 100.64/10
    [InlineData("11.0.0.1")]
    [InlineData("2606:2800:21f:cb07:6820:80da:af6b:8b2c")]
    [InlineData("::ffff:93.184.215.14")]
    public void Classify_PublicAddress_IsNull(string address) => Assert.Null(EgressAddress.Classify(IPAddress.Parse(address)));

    public static TheoryData<string, string> OddSpellings() => new()
    {
        { "http://2130706433/", "127.0.0.1" }, // decimal
        { "http://0x7f000001/", "127.0.0.1" }, // hex
        { "http://0x7f.1/", "127.0.0.1" }, // hex, short
        { "http://127.1/", "127.0.0.1" }, // short
        { "http://127.0.1/", "127.0.0.1" },
        { "http://0177.0.0.1/", "127.0.0.1" }, // octal
        { "http://017700000001/", "127.0.0.1" },
        { "http://127.000.000.001/", "127.0.0.1" }, // leading zeros
        { "http://0251.0376.0251.0376/", "169.254.169.254" }, // octal metadata address
        { "http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254" },
        { "http://2852039166/", "169.254.169.254" },
        { "http://0/", "0.0.0.0" },
        { "http://10.1/", "10.0.0.1" },
    };

    [Theory]
    [MemberData(nameof(OddSpellings))]
    public void TryParse_OddIPv4Spelling_IsRefusedNamingWhatClientsRead(string url, string readAs)
    {
        var error = EgressUrl.TryParse(url, out var parsed);

        Assert.Null(parsed);
        Assert.NotNull(error);
        Assert.Contains("usual spelling", error, StringComparison.Ordinal);
        Assert.Contains(readAs, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://1.2.3.4.5/")] // numeric last label, not an address
    [InlineData("http://example.123/")]
    [InlineData("http://example.0x1f/")]
    public void TryParse_NumericLastLabel_IsRefusedAsAnAddressSpelling(string url) =>
        Assert.Contains("usual spelling", EgressUrl.TryParse(url, out _), StringComparison.Ordinal);

    [Theory]
    [InlineData("https://x@127.0.0.1:5432/", "User info")]
    [InlineData("https://user:pw@example.com/", "User info")]
    [InlineData("http://example.com@127.0.0.1/", "User info")]
    [InlineData("ftp://example.com/", "Only http and https")]
    [InlineData("file:///etc/passwd", "Only http and https")]
    [InlineData("gopher://127.0.0.1:6379/_FLUSHALL", "Only http and https")]
    [InlineData("//example.com/", "Only http and https")]
    [InlineData("example.com", "Only http and https")]
    [InlineData("http://exa mple.com/", "spaces")]
    [InlineData("http://example.com\\@127.0.0.1/", "backslashes")]
    [InlineData("http://exämple.com/", "non-ASCII")]
    [InlineData("http://ex_ample.com/", "not a valid DNS name")]
    [InlineData("http://-example.com/", "not a valid DNS name")]
    [InlineData("http://a..b/", "not a valid DNS name")]
    [InlineData("http:///path", "no host")]
    [InlineData("http://example.com:0/", "port")]
    [InlineData("http://example.com:65536/", "port")]
    [InlineData("http://example.com:+80/", "port")]
    [InlineData("http://example.com:/", "port")]
    [InlineData("http://[fe80::1%25eth0]/", "zone")]
    [InlineData("http://[::1/", "bracket")]
    [InlineData("", "absolute")]
    public void TryParse_BadUrl_IsRefusedNamingTheRule(string url, string rule)
    {
        Assert.Contains(rule, EgressUrl.TryParse(url, out var parsed), StringComparison.Ordinal);
        Assert.Null(parsed);
    }

    [Theory]
    [InlineData("https://hooks.example.com/portal", "https", "hooks.example.com", 443, null)]
    [InlineData("http://Metrics.Internal.Example:9100/metrics", "http", "metrics.internal.example", 9100, null)]
    [InlineData("http://127.0.0.1:8080/", "http", "127.0.0.1", 8080, "127.0.0.1")]
    [InlineData("HTTP://93.184.215.14", "http", "93.184.215.14", 80, "93.184.215.14")]
    [InlineData("http://[::1]:9090/x", "http", "[::1]", 9090, "::1")]
    [InlineData("https://[::ffff:127.0.0.1]/", "https", "[::ffff:127.0.0.1]", 443, "127.0.0.1")]
    [InlineData("http://localhost:9100/metrics?x=1#y", "http", "localhost", 9100, null)]
    public void TryParse_WellFormedUrl_ReadsSchemeHostPortAndLiteral(string text, string scheme, string host, int port, string? address)
    {
        Assert.Null(EgressUrl.TryParse(text, out var url));
        Assert.Equal(scheme, url!.Scheme);
        Assert.Equal(host, url.Host);
        Assert.Equal(port, url.Port);
        Assert.Equal(address, url.Address is null ? null : EgressAddress.Canonical(url.Address).ToString());
    }

    [Fact]
    public void Judge_LoopbackLiteral_NamesTheRangeAndTheAdvice()
    {
        var error = EgressPolicy.Judge("127.0.0.1", [IPAddress.Loopback], [], NoneProtected);

        Assert.Equal("127.0.0.1 is a loopback address; egress to loopback addresses is denied (ask a platform admin to allow it).", error);
    }

    [Fact]
    public void Judge_NameResolvingToOnePrivateAddressAmongPublicOnes_IsRefused()
    {
        var error = EgressPolicy.Judge("mixed.example", [IPAddress.Parse("93.184.215.14"), IPAddress.Parse("10.1.2.3")], [], NoneProtected);

        Assert.Equal("mixed.example resolves to 10.1.2.3, which is a private address; egress to private addresses is denied (ask a platform admin to allow it).", error);
    }

    [Fact]
    public void Judge_NameThatDoesNotResolve_IsRefused() =>
        Assert.Contains("does not resolve", EgressPolicy.Judge("nowhere.example", [], [], NoneProtected), StringComparison.Ordinal);

    [Fact]
    public void Judge_PublicAddress_IsAllowed() =>
        Assert.Null(EgressPolicy.Judge("example.com", [IPAddress.Parse("93.184.215.14")], [], NoneProtected));

    [Fact]
    public void Judge_AllowedNetwork_OpensItsAddressesOnly()
    {
        EgressAllowEntry[] allowed = [Entry("10.20.0.0/16")];

        Assert.Null(EgressPolicy.Judge("10.20.3.4", [IPAddress.Parse("10.20.3.4")], allowed, NoneProtected));
        Assert.Null(EgressPolicy.Judge("[::ffff:10.20.3.4]", [IPAddress.Parse("::ffff:10.20.3.4")], allowed, NoneProtected));
        Assert.Contains("private", EgressPolicy.Judge("10.21.0.1", [IPAddress.Parse("10.21.0.1")], allowed, NoneProtected), StringComparison.Ordinal);
    }

    [Fact]
    public void Judge_AllowedHostName_OpensThatNameWhateverItResolvesTo()
    {
        EgressAllowEntry[] allowed = [Entry("metrics.internal.example")];

        Assert.Null(EgressPolicy.Judge("metrics.internal.example", [IPAddress.Parse("10.9.9.9")], allowed, NoneProtected));
        Assert.NotNull(EgressPolicy.Judge("other.internal.example", [IPAddress.Parse("10.9.9.9")], allowed, NoneProtected));
    }

    [Fact]
    public void Judge_BackendAddressInsideAnAllowedNetwork_StaysDeniedUntilTheExactAddressIsAllowed()
    {
        var backends = new Dictionary<IPAddress, string> { [IPAddress.Parse("10.20.0.5")] = "the address of backend pg-1" };

        var error = EgressPolicy.Judge("10.20.0.5", [IPAddress.Parse("10.20.0.5")], [Entry("10.20.0.0/16")], backends);

        Assert.Equal("10.20.0.5 is the address of backend pg-1; egress to the portal and its backends is denied (ask a platform admin to allow it, for that exact address).", error);
        Assert.Null(EgressPolicy.Judge("10.20.0.5", [IPAddress.Parse("10.20.0.5")], [Entry("10.20.0.5/32")], backends));
    }

    [Fact]
    public void Judge_PublicBackendAddress_IsDenied()
    {
        var portal = new Dictionary<IPAddress, string> { [IPAddress.Parse("203.0.113.7")] = "the portal's own address" };

        Assert.Contains("the portal's own address", EgressPolicy.Judge("portal.example", [IPAddress.Parse("203.0.113.7")], [], portal), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.20.0.0/16", "10.20.0.0/16")]
    [InlineData(" 10.20.0.0/16 ", "10.20.0.0/16")]
    [InlineData("127.0.0.1", "127.0.0.1/32")]
    [InlineData("::1", "::1/128")]
    [InlineData("fd00::/8", "fd00::/8")]
    [InlineData("Metrics.Internal.Example", "metrics.internal.example")]
    [InlineData("localhost", "localhost")]
    public void NormalizeTarget_AdminInput_IsStoredCanonical(string text, string expected)
    {
        Assert.Null(EgressAllowEntry.NormalizeTarget(text, out var target));
        Assert.Equal(expected, target);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.20.1.0/16")] // host bits set
    [InlineData("10.20.0.0/33")]
    [InlineData("0.0.0.0/0")]
    [InlineData("::/0")]
    [InlineData("::ffff:10.0.0.0/104")]
    [InlineData("2130706433")]
    [InlineData("0x7f.1")]
    [InlineData("ex_ample.com")]
    [InlineData("http://example.com")]
    public void NormalizeTarget_BadInput_IsRefused(string text) => Assert.NotNull(EgressAllowEntry.NormalizeTarget(text, out _));

    [Fact]
    public void AppliesTo_ScopedEntries_HoldOnlyWhereTheyAreScoped()
    {
        var backend = Guid.NewGuid();
        var everywhere = Entry("10.0.0.0/8");
        var site = new EgressAllowEntry { Target = "10.0.0.0/8", Site = "dc2", CreatedBy = "admin" };
        var oneBackend = new EgressAllowEntry { Target = "10.0.0.0/8", BackendId = backend, CreatedBy = "admin" };

        Assert.True(everywhere.AppliesTo(EgressScope.Portal));
        Assert.False(site.AppliesTo(EgressScope.Portal));
        Assert.False(oneBackend.AppliesTo(EgressScope.Portal));
        Assert.True(site.AppliesTo(new EgressScope("dc2", Guid.NewGuid())));
        Assert.False(site.AppliesTo(new EgressScope("dc1", backend)));
        Assert.True(oneBackend.AppliesTo(new EgressScope("dc1", backend)));
        Assert.False(oneBackend.AppliesTo(new EgressScope("dc1", Guid.NewGuid())));
    }

    private static EgressAllowEntry Entry(string target)
    {
        Assert.Null(EgressAllowEntry.NormalizeTarget(target, out var normalized));
        return new EgressAllowEntry { Target = normalized, CreatedBy = "admin" };
    }
}
