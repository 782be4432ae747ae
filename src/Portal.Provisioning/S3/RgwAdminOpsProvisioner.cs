using System.Globalization;
using System.Net;
using System.Text.Json;
using Portal.Provisioning.Http;
using static Portal.Provisioning.Http.JsonText;

namespace Portal.Provisioning.S3;

/// <summary>
/// <see cref="IObjectStoreProvisioner"/> for Ceph RADOS Gateway through its Admin Ops REST API
/// (<c>/admin/user</c>, <c>/admin/bucket</c>), signed with SigV4 by the admin's S3 key. An account is an RGW
/// tenant with one user, <c>&lt;account&gt;$owner</c>: the tenant gives the account a bucket namespace of its
/// own, so one account's keys cannot even name another's buckets without the <c>tenant:bucket</c> syntax, which
/// RGW refuses to them. The admin user needs the caps <c>users=*</c> and <c>buckets=*</c>.
/// </summary>
/// <remarks>
/// Everything is HTTP, so the gateway may run on any host the portal reaches. Parameters always go in the
/// query string (RGW answers 501 to some JSON bodies), and no secret is ever sent in one: RGW generates every
/// secret and returns it in the response body, which this class never logs or puts in an exception.
/// </remarks>
public sealed class RgwAdminOpsProvisioner : IObjectStoreProvisioner, IDisposable
{
    /// <summary>The user of each account's tenant.</summary>
    public const string OwnerUser = "owner";

    /// <summary>How long one Admin Ops call may take before it fails with a <see cref="TimeoutException"/>.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    // Purging an account deletes its objects one by one inside the call.
    private static readonly TimeSpan PurgeTimeout = TimeSpan.FromMinutes(10);

    private static readonly string[] RequiredCaps = ["users", "buckets"];

    private readonly BackendHttpClient _http;
    private readonly BackendEndpoint _backend;

    /// <param name="httpClientFactory">Gives the named client <paramref name="httpClientName"/>; a TLS backend's calls
    /// get a client of their own that trusts its platform CA only.</param>
    /// <param name="httpClientName">The named client to use.</param>
    /// <param name="baseUrl">The gateway's URL, e.g. <c>https://127.0.0.1:7480/</c>; the API is under <c>admin/</c>.</param>
    /// <param name="backend">Its <see cref="BackendEndpoint.AdminUser"/> and <see cref="BackendEndpoint.AdminPassword"/>
    /// are the admin's S3 access key id and secret.</param>
    /// <param name="region">The region requests are signed for (RGW accepts any).</param>
    /// <param name="time">The clock for signatures; the system clock when null.</param>
    public RgwAdminOpsProvisioner(
        IHttpClientFactory httpClientFactory, string httpClientName, Uri baseUrl, BackendEndpoint backend, string region,
        TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(httpClientFactory);
        ArgumentNullException.ThrowIfNull(baseUrl);
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentException.ThrowIfNullOrEmpty(region);
        var clock = time ?? TimeProvider.System;
        _backend = backend;
        _http = BackendHttpClient.Create(httpClientFactory, httpClientName, backend, new Uri(baseUrl.AbsoluteUri.TrimEnd('/') + "/"),
            new BackendApi("RGW Admin Ops", RequestTimeout)
            {
                SignIn = request => AwsSigV4.Sign(request, backend.AdminUser, backend.AdminPassword, region, "s3", clock.GetUtcNow()),
                // Bodies hold the secrets RGW generates: a message shows the error code only.
                ErrorReason = body => ErrorCode(body) ?? "(no error code)",
            });
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    /// <summary>The RGW user id of an account: <c>&lt;account&gt;$owner</c> (tenant <c>$</c> user).</summary>
    public static string UserId(string account) => $"{account}${OwnerUser}";

    /// <inheritdoc />
    public async Task<ObjectStoreAccount?> GetAccountAsync(string account, CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Get, "user", [("uid", UserId(account))], ct);
        if (response.Status == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccess();
        var user = response.Json();
        var keys = user.TryGetProperty("keys", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(k => Text(k, "access_key")).Where(k => k.Length > 0).ToList()
            : [];
        return new ObjectStoreAccount(
            account,
            Number(user, "suspended") != 0,
            (int)Number(user, "max_buckets"),
            keys,
            user.TryGetProperty("user_quota", out var quota) ? Quota(quota) : ObjectStoreQuota.None);
    }

    /// <inheritdoc />
    public async Task EnsureAccountAsync(string account, string displayName, int maxBuckets, CancellationToken ct)
    {
        (string, string?)[] settings =
        [
            ("uid", UserId(account)),
            ("display-name", displayName),
            ("max-buckets", maxBuckets.ToString(CultureInfo.InvariantCulture)),
        ];
        if (await GetAccountAsync(account, ct) is null)
        {
            // generate-key=false: the account starts without keys; each binding gets its own.
            var created = await SendAsync(HttpMethod.Put, "user", [.. settings, ("generate-key", "false")], ct);
            if (Code(created) != "UserAlreadyExists")
            {
                created.EnsureSuccess();
                return;
            }
        }

        // An existing user (or one a concurrent try just made): bring it to the wanted settings.
        (await SendAsync(HttpMethod.Post, "user", settings, ct)).EnsureSuccess();
    }

    /// <inheritdoc />
    public async Task SetQuotaAsync(string account, ObjectStoreQuota quota, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(quota);
        var enabled = quota.MaxBytes is not null || quota.MaxObjects is not null;
        (await SendAsync(HttpMethod.Put, "user",
        [
            ("quota", null),
            ("uid", UserId(account)),
            ("quota-type", "user"),
            ("max-size", (quota.MaxBytes ?? -1).ToString(CultureInfo.InvariantCulture)),
            ("max-objects", (quota.MaxObjects ?? -1).ToString(CultureInfo.InvariantCulture)),
            ("enabled", enabled ? "true" : "false"),
        ], ct)).EnsureSuccess();
    }

    /// <inheritdoc />
    public async Task<string> IssueKeyAsync(string account, string accessKeyId, CancellationToken ct)
    {
        // With access-key given and no secret-key, generate-key makes RGW generate the secret only; on a key
        // the user already has it replaces that key's secret.
        var response = await SendAsync(HttpMethod.Put, "user",
        [
            ("key", null),
            ("uid", UserId(account)),
            ("key-type", "s3"),
            ("access-key", accessKeyId),
            ("generate-key", "true"),
        ], ct);
        response.EnsureSuccess();
        var keys = response.Json();
        var secret = keys.ValueKind == JsonValueKind.Array
            ? keys.EnumerateArray().Where(k => Text(k, "access_key") == accessKeyId).Select(k => Text(k, "secret_key")).FirstOrDefault()
            : null;
        return string.IsNullOrEmpty(secret)
            ? throw new HttpRequestException($"RGW Admin Ops did not return the secret of key {accessKeyId} of {UserId(account)}.")
            : secret;
    }

    /// <inheritdoc />
    public async Task RevokeKeyAsync(string account, string accessKeyId, CancellationToken ct)
    {
        // RGW answers 403 InvalidAccessKeyId for a key that is not there, the same as for a bad admin key, so
        // the user's key list decides whether there is anything to delete.
        var user = await GetAccountAsync(account, ct);
        if (user is null || !user.AccessKeyIds.Contains(accessKeyId, StringComparer.Ordinal))
        {
            return;
        }

        var response = await SendAsync(HttpMethod.Delete, "user",
            [("key", null), ("uid", UserId(account)), ("key-type", "s3"), ("access-key", accessKeyId)], ct);
        if (response.Status != HttpStatusCode.NotFound && Code(response) != "InvalidAccessKeyId")
        {
            response.EnsureSuccess();
        }
    }

    /// <inheritdoc />
    public async Task<ObjectStoreBucket?> GetBucketAsync(string account, string bucket, CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Get, "bucket", [("bucket", $"{account}/{bucket}"), ("stats", "true")], ct);
        if (response.Status == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccess();
        var info = response.Json();
        if (Text(info, "owner") != UserId(account))
        {
            return null;
        }

        long objects = 0, bytes = 0;
        if (info.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            // One entry per storage category (rgw.main, rgw.multimeta...); objects count in rgw.main.
            foreach (var category in usage.EnumerateObject())
            {
                objects += Number(category.Value, "num_objects");
                bytes += Number(category.Value, "size");
            }
        }

        return new ObjectStoreBucket(bucket, objects, bytes);
    }

    /// <inheritdoc />
    public async Task DeleteAccountAsync(string account, CancellationToken ct)
    {
        var uid = UserId(account);
        var listed = await SendAsync(HttpMethod.Get, "bucket", [("uid", uid)], ct);
        if (listed.Status == HttpStatusCode.NotFound)
        {
            return;
        }

        listed.EnsureSuccess();
        var buckets = listed.Json();
        // Buckets first, each with its objects: what a crash leaves is then an empty user at most, never
        // objects of a user that is gone.
        foreach (var bucket in buckets.ValueKind == JsonValueKind.Array ? buckets.EnumerateArray().Select(b => b.GetString() ?? "") : [])
        {
            var deleted = await SendAsync(HttpMethod.Delete, "bucket",
                [("bucket", $"{account}/{bucket}"), ("purge-objects", "true")], ct, PurgeTimeout);
            if (deleted.Status != HttpStatusCode.NotFound)
            {
                deleted.EnsureSuccess();
            }
        }

        // purge-data also removes buckets made between the listing and now.
        var removed = await SendAsync(HttpMethod.Delete, "user", [("uid", uid), ("purge-data", "true")], ct, PurgeTimeout);
        if (removed.Status != HttpStatusCode.NotFound)
        {
            removed.EnsureSuccess();
        }
    }

    /// <inheritdoc />
    public async Task<HealthReport> TestAsync(CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Get, "user", [("access-key", _backend.AdminUser)], ct);
        if (response.Status is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
        {
            return new HealthReport(false,
                $"RGW Admin Ops at {_http.BaseUrl} refused the admin key {_backend.AdminUser}: {Code(response) ?? response.Status.ToString()}.");
        }

        response.EnsureSuccess();
        var user = response.Json();
        var caps = user.TryGetProperty("caps", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().ToDictionary(c => Text(c, "type"), c => Text(c, "perm"), StringComparer.Ordinal)
            : [];
        var missing = RequiredCaps.Where(c => !caps.TryGetValue(c, out var perm) || perm is not ("*" or "read, write")).ToList();
        var who = $"{Text(user, "user_id")} ({_backend.AdminUser})";
        return missing.Count == 0
            ? new HealthReport(true, $"RGW Admin Ops at {_http.BaseUrl} answers; {who} may manage users and buckets.")
            : new HealthReport(false,
                $"RGW Admin Ops at {_http.BaseUrl} answers, but {who} lacks the caps {string.Join(", ", missing.Select(c => c + "=*"))} " +
                $"(radosgw-admin caps add --uid=… --caps=\"users=*;buckets=*\").");
    }

    /// <summary>The Admin Ops URL of a call; a parameter without value is a bare flag such as <c>quota</c>.</summary>
    internal static Uri AdminUri(Uri baseUrl, string resource, IEnumerable<(string Name, string? Value)> parameters) =>
        new(baseUrl, "admin/" + resource + "?" + string.Join('&', parameters.Select(p =>
            p.Value is null ? Uri.EscapeDataString(p.Name) : $"{Uri.EscapeDataString(p.Name)}={Uri.EscapeDataString(p.Value)}")));

    private static ObjectStoreQuota Quota(JsonElement quota)
    {
        if (quota.ValueKind != JsonValueKind.Object || !quota.TryGetProperty("enabled", out var enabled) || !enabled.GetBoolean())
        {
            return ObjectStoreQuota.None;
        }

        var bytes = Number(quota, "max_size");
        var objects = Number(quota, "max_objects");
        return new ObjectStoreQuota(bytes < 0 ? null : bytes, objects < 0 ? null : objects);
    }

    private static long Number(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number
            ? value.GetInt64()
            : 0;

    private Task<BackendResponse> SendAsync(
        HttpMethod method, string resource, (string Name, string? Value)[] parameters, CancellationToken ct,
        TimeSpan? timeout = null) =>
        _http.SendAsync(method, AdminUri(_http.BaseUrl, resource, parameters), null, ct, timeout);

    /// <summary>RGW's error code of a failed call, e.g. <c>NoSuchUser</c>; null when there is none.</summary>
    private static string? Code(BackendResponse response) => response.IsSuccess ? null : ErrorCode(response.Body);

    private static string? ErrorCode(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return Text(document.RootElement, "Code") is { Length: > 0 } code && code.Length <= 64 ? code : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
