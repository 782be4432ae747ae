using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Portal.Provisioning.S3;

/// <summary>
/// AWS Signature Version 4 for requests without a body, as S3 servers expect them (service <c>s3</c>, the
/// <c>x-amz-content-sha256</c> header): enough for admin APIs that take all their input in the query string,
/// such as the RGW Admin Ops API. The data plane signs through AWSSDK.S3 instead.
/// </summary>
internal static class AwsSigV4
{
    /// <summary>SHA-256 of the empty payload, hex.</summary>
    public const string EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private const string Algorithm = "AWS4-HMAC-SHA256";

    /// <summary>
    /// Adds <c>x-amz-date</c>, <c>x-amz-content-sha256</c> and the <c>Authorization</c> header for a request
    /// without content; sets the <c>Host</c> header to the value that was signed.
    /// </summary>
    public static void Sign(
        HttpRequestMessage request, string accessKeyId, string secretAccessKey, string region, string service,
        DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(request);
        var uri = request.RequestUri ?? throw new ArgumentException("The request has no URI.", nameof(request));
        if (request.Content is not null)
        {
            throw new ArgumentException("Only requests without content are signed here.", nameof(request));
        }

        var host = HostHeader(uri);
        var date = Timestamp(at);
        request.Headers.Host = host;
        request.Headers.Remove("x-amz-date");
        request.Headers.Remove("x-amz-content-sha256");
        request.Headers.TryAddWithoutValidation("x-amz-date", date);
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", EmptyPayloadHash);
        request.Headers.Remove("Authorization");
        request.Headers.TryAddWithoutValidation("Authorization", Authorization(
            request.Method.Method, uri,
            [new("host", host), new("x-amz-content-sha256", EmptyPayloadHash), new("x-amz-date", date)],
            EmptyPayloadHash, accessKeyId, secretAccessKey, region, service, at));
    }

    /// <summary>The <c>Authorization</c> header value for a request whose signed headers are <paramref name="headers"/>.</summary>
    public static string Authorization(
        string method, Uri uri, IReadOnlyList<KeyValuePair<string, string>> headers, string payloadHash,
        string accessKeyId, string secretAccessKey, string region, string service, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var signed = headers.Select(h => h.Key.ToLowerInvariant()).Order(StringComparer.Ordinal).ToList();
        var scope = $"{at.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture)}/{region}/{service}/aws4_request";
        var canonical = CanonicalRequest(method, uri, headers, payloadHash);
        var stringToSign = $"{Algorithm}\n{Timestamp(at)}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";

        var key = Encoding.UTF8.GetBytes("AWS4" + secretAccessKey);
        foreach (var part in scope.Split('/'))
        {
            key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(part));
        }

        var signature = Hex(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)));
        return $"{Algorithm} Credential={accessKeyId}/{scope}, SignedHeaders={string.Join(';', signed)}, Signature={signature}";
    }

    /// <summary>
    /// The canonical request: method, the path (<see cref="CanonicalPath"/>), the sorted query with
    /// every name and value in RFC 3986 encoding (a bare <c>quota</c> becomes <c>quota=</c>), the headers,
    /// the signed header names and the payload hash.
    /// </summary>
    public static string CanonicalRequest(
        string method, Uri uri, IReadOnlyList<KeyValuePair<string, string>> headers, string payloadHash)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(headers);
        var canonicalHeaders = headers
            .Select(h => (Name: h.Key.ToLowerInvariant(), Value: string.Join(' ', h.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))))
            .OrderBy(h => h.Name, StringComparer.Ordinal)
            .ToList();
        return string.Join('\n',
            method,
            CanonicalPath(uri.AbsolutePath),
            CanonicalQuery(uri.Query),
            string.Concat(canonicalHeaders.Select(h => $"{h.Name}:{h.Value}\n")),
            string.Join(';', canonicalHeaders.Select(h => h.Name)),
            payloadHash);
    }

    /// <summary>
    /// A path in canonical form for S3: each segment RFC 3986-encoded once (S3 does not encode twice), so
    /// <c>/t:b/a b</c> becomes <c>/t%3Ab/a%20b</c> whether or not the URI had escaped it already.
    /// </summary>
    public static string CanonicalPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return path.Length == 0 ? "/" : string.Join('/', path.Split('/').Select(s => Encode(Uri.UnescapeDataString(s))));
    }

    /// <summary>A query string (with or without its <c>?</c>) in canonical form.</summary>
    public static string CanonicalQuery(string query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var pairs = query.TrimStart('?')
            .Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p =>
            {
                var equals = p.IndexOf('=');
                var name = equals < 0 ? p : p[..equals];
                var value = equals < 0 ? "" : p[(equals + 1)..];
                return (Name: Encode(Uri.UnescapeDataString(name)), Value: Encode(Uri.UnescapeDataString(value)));
            })
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ThenBy(p => p.Value, StringComparer.Ordinal);
        return string.Join('&', pairs.Select(p => $"{p.Name}={p.Value}"));
    }

    /// <summary>The Host header HttpClient sends for the URI: the port only when it is not the scheme's default.</summary>
    public static string HostHeader(Uri uri) => uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port.ToString(CultureInfo.InvariantCulture)}";

    private static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

    // RFC 3986 unreserved characters stay, everything else is %XX with upper-case hex: what SigV4 asks for.
    private static string Encode(string value) => Uri.EscapeDataString(value);

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
