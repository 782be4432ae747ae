using Portal.Provisioning.S3;

namespace Portal.Provisioning.Tests.S3;

/// <summary>
/// The signer against known answers: AWS's published SigV4 test suite ("get-vanilla") and signatures botocore
/// 1.43 computed for the same Admin Ops requests (S3SigV4Auth, frozen clock).
/// </summary>
public sealed class AwsSigV4Tests
{
    private const string AccessKeyId = "AKIDEXAMPLE";
    private const string Secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    private static readonly DateTimeOffset At = new(2015, 8, 30, 12, 36, 0, TimeSpan.Zero);

    [Fact]
    public void Authorization_AwsTestSuiteGetVanilla_MatchesPublishedSignature()
    {
        var authorization = AwsSigV4.Authorization("GET", new Uri("https://example.amazonaws.com/"),
            [new("Host", "example.amazonaws.com"), new("X-Amz-Date", "20150830T123600Z")],
            AwsSigV4.EmptyPayloadHash, AccessKeyId, Secret, "us-east-1", "service", At);

        Assert.Equal(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, " +
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            authorization);
    }

    [Fact]
    public void Sign_AdminOpsKeyCreateWithFlagAndEscapedDollar_MatchesBotocore()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put,
            "http://127.0.0.1:25709/admin/user?key&uid=pi_0123456789abcdef0123456789abcdef%24owner&key-type=s3&access-key=PB0123&generate-key=true");

        AwsSigV4.Sign(request, AccessKeyId, Secret, "us-east-1", "s3", At);

        Assert.Equal("127.0.0.1:25709", request.Headers.Host);
        Assert.Equal("20150830T123600Z", request.Headers.GetValues("x-amz-date").Single());
        Assert.Equal(AwsSigV4.EmptyPayloadHash, request.Headers.GetValues("x-amz-content-sha256").Single());
        Assert.Equal(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, " +
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, " +
            "Signature=b11cda239baf281fc2f07797d58f2e0904206a0d76d295ab96ff02d2adcf9f4b",
            request.Headers.GetValues("Authorization").Single());
    }

    [Fact]
    public void Sign_DefaultPortSlashInValueOtherRegion_MatchesBotocore()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://rgw.example.com/admin/bucket?bucket=pi_ab%2Fpi-ab&stats=true");

        AwsSigV4.Sign(request, AccessKeyId, Secret, "eu-central-1", "s3", At);

        Assert.Equal("rgw.example.com", request.Headers.Host);
        Assert.EndsWith("Signature=91bed388489a5ff9ff0dea53f292c8a6e138f64285552e01539e1df7d9b9651b",
            request.Headers.GetValues("Authorization").Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:7480/pi_a:pi-a/notes/q3 report.txt?list-type=2")]
    [InlineData("http://127.0.0.1:7480/pi_a%3Api-a/notes/q3%20report.txt?list-type=2")]
    public void Sign_PathWithColonAndSpace_MatchesBotocoreEscapedOrNot(string url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);

        AwsSigV4.Sign(request, AccessKeyId, Secret, "us-east-1", "s3", At);

        Assert.EndsWith("Signature=534e1c8f4179c521db0b914c0a6e6f9d44be8359a4e8438d07b704d72cc7ada0",
            request.Headers.GetValues("Authorization").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void Sign_Twice_ReplacesHeadersInsteadOfAddingThem()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://rgw.example.com/admin/bucket?bucket=pi_ab%2Fpi-ab&stats=true");

        AwsSigV4.Sign(request, AccessKeyId, "other", "eu-central-1", "s3", At.AddDays(1));
        AwsSigV4.Sign(request, AccessKeyId, Secret, "eu-central-1", "s3", At);

        Assert.Single(request.Headers.GetValues("x-amz-date"));
        Assert.EndsWith("Signature=91bed388489a5ff9ff0dea53f292c8a6e138f64285552e01539e1df7d9b9651b",
            request.Headers.GetValues("Authorization").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void Sign_RequestWithContent_Throws()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "http://rgw.example.com/admin/user?uid=x")
        {
            Content = new StringContent("{}"),
        };

        Assert.Throws<ArgumentException>(() => AwsSigV4.Sign(request, AccessKeyId, Secret, "us-east-1", "s3", At));
    }

    [Theory]
    [InlineData("?quota&uid=a%24b&quota-type=user", "quota=&quota-type=user&uid=a%24b")]
    [InlineData("?uid=a$b", "uid=a%24b")]
    [InlineData("b=2&a=3&a=1", "a=1&a=3&b=2")]
    [InlineData("?display-name=Portal%20instance", "display-name=Portal%20instance")]
    [InlineData("?x=a%2Fb~c_d.e-f", "x=a%2Fb~c_d.e-f")]
    [InlineData("", "")]
    public void CanonicalQuery_Examples_SortedAndRfc3986Encoded(string query, string expected)
    {
        Assert.Equal(expected, AwsSigV4.CanonicalQuery(query));
    }

    [Theory]
    [InlineData("/admin/user", "/admin/user")]
    [InlineData("/pi_a:pi-a/notes/q3 report.txt", "/pi_a%3Api-a/notes/q3%20report.txt")]
    [InlineData("/bucket/a%20b", "/bucket/a%20b")]
    [InlineData("/bucket/", "/bucket/")]
    [InlineData("", "/")]
    public void CanonicalPath_Examples_EachSegmentEncodedOnce(string path, string expected)
    {
        Assert.Equal(expected, AwsSigV4.CanonicalPath(path));
    }

    [Theory]
    [InlineData("http://127.0.0.1:7480/admin", "127.0.0.1:7480")]
    [InlineData("http://rgw.example.com/", "rgw.example.com")]
    [InlineData("https://rgw.example.com:443/", "rgw.example.com")]
    [InlineData("https://rgw.example.com:8443/", "rgw.example.com:8443")]
    [InlineData("http://[::1]:7480/", "[::1]:7480")]
    public void HostHeader_Examples_PortOnlyWhenNotDefault(string url, string expected)
    {
        Assert.Equal(expected, AwsSigV4.HostHeader(new Uri(url)));
    }
}
