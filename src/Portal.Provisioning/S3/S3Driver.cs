using System.Globalization;
using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Logging;

namespace Portal.Provisioning.S3;

/// <summary>
/// Serves <c>s3</c> instances on an S3-compatible object store: one account per instance (on Ceph RGW a
/// tenant with one user) holding one bucket, with the plan's limits as the account's quota, and one S3 access
/// key per binding on that account (one more per credential rotation), which reaches the instance's bucket and
/// nothing else.
/// </summary>
/// <remarks>
/// <para>
/// The driver is split along the store's two planes. The admin plane (accounts, quotas, keys) is behind
/// <see cref="IObjectStoreProvisioner"/>, here <see cref="RgwAdminOpsProvisioner"/> over RGW's Admin Ops API;
/// the data plane (creating the bucket) is plain S3 through AWSSDK.S3, usable against any S3 server. Both are
/// HTTP, so the store may run on any host the portal reaches.
/// </para>
/// <para>
/// Of the <see cref="BackendEndpoint"/>, AdminUser and AdminPassword are the S3 access key id and secret of
/// an RGW user with the caps <c>users=*;buckets=*</c>; Host and Port are the gateway, reached at
/// <c>http://Host:Port</c> unless the <c>endpointUrl</c> setting says otherwise.
/// </para>
/// <para>
/// A TLS backend (<see cref="BackendEndpoint.Tls"/>) is reached at <c>https://Host:Port</c> (an <c>endpointUrl</c>
/// must be https then), and both planes trust the platform CA (<see cref="BackendEndpoint.RequireCa"/>) and no other
/// root; bindings carry that CA as <c>ca.crt</c> so apps verify the gateway the same way.
/// </para>
/// </remarks>
public sealed class S3Driver : IServiceDriver
{
    /// <summary>The name of the <see cref="HttpClient"/> the driver asks <see cref="IHttpClientFactory"/> for.</summary>
    public const string HttpClientName = "s3-admin";

    /// <summary>The backend setting with the S3 URL apps and the driver use, e.g. <c>https://s3.dc1.example.com</c>.</summary>
    public const string EndpointUrlSetting = "endpointUrl";

    /// <summary>The backend setting with the region requests are signed for; <see cref="DefaultRegion"/> when unset.</summary>
    public const string RegionSetting = "region";

    /// <summary>The region when the backend names none; RGW accepts any region in signatures.</summary>
    public const string DefaultRegion = "us-east-1";

    private const string MaxSizeLimit = "maxSizeMb";
    private const string MaxObjectsLimit = "maxObjects";
    private const long BytesPerMb = 1024 * 1024;

    // The app gets one bucket, made by the driver; deleting it and making another stays possible, a second not.
    private const int BucketsPerAccount = 1;

    // A new key may take a moment to reach every gateway behind a load balancer.
    private static readonly TimeSpan NewKeyWait = TimeSpan.FromSeconds(10);

    private readonly IHttpClientFactory _httpClientFactory;
    private readonly ILogger<S3Driver> _logger;
    private readonly TimeProvider _time;

    /// <summary>Creates the driver.</summary>
    public S3Driver(IHttpClientFactory httpClientFactory, ILogger<S3Driver> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(httpClientFactory);
        ArgumentNullException.ThrowIfNull(logger);
        _httpClientFactory = httpClientFactory;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string Kind => "s3";

    /// <inheritdoc />
    public bool SupportsTls => true;

    /// <inheritdoc />
    public IReadOnlyList<DriverField> BackendSettings { get; } =
    [
        new(EndpointUrlSetting, "Endpoint URL",
            "The S3 URL of the gateway (RADOS Gateway), for the portal's admin calls and for apps, e.g. " +
            "https://s3.dc1.example.com. No value: http://Host:Port, or https://Host:Port when the backend serves TLS " +
            "(tls=true; then an endpointUrl must be https too). AdminUser and AdminPassword are the S3 access " +
            "key and secret of an RGW user with the caps users=*;buckets=*."),
        new(RegionSetting, "Region",
            $"The region S3 requests are signed for, handed to apps. No value: {DefaultRegion}."),
    ];

    /// <inheritdoc />
    public IReadOnlyList<DriverField> PlanLimits { get; } =
    [
        new(MaxSizeLimit, "Storage (MB)",
            "Most megabytes (MiB) the instance's objects may hold in total (quota of its account). No value: unlimited."),
        new(MaxObjectsLimit, "Objects",
            "Most objects the instance may hold (quota of its account). No value: unlimited."),
    ];

    /// <inheritdoc />
    public async Task<ProvisionResult> ProvisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var account = S3Names.Account(instance.InstanceId);
        var bucket = S3Names.Bucket(instance.InstanceId);
        var quota = Quota(instance.Limits);
        var backend = instance.Backend;
        using var store = Provisioner(backend);

        instance.Progress.Report($"Creating account {account}");
        await store.EnsureAccountAsync(account, $"Portal instance {instance.InstanceId}", BucketsPerAccount, ct);
        await ApplyQuotaAsync(store, instance, account, quota, ct);

        var keyId = S3Names.ProvisioningAccessKeyId(instance.InstanceId);
        if (await store.GetBucketAsync(account, bucket, ct) is null)
        {
            instance.Progress.Report($"Creating bucket {bucket}");
            // RGW's admin API cannot make a bucket for a user, so the account makes it with a key of its own,
            // which goes again right after (and on a retry, should a crash have left it).
            var secret = await store.IssueKeyAsync(account, keyId, ct);
            await CreateBucketAsync(store, backend, account, bucket, keyId, secret, ct);
        }

        await store.RevokeKeyAsync(account, keyId, ct);

        _logger.LogInformation("Provisioned S3 account {Account} with bucket {Bucket} on {Backend}", account, bucket, backend);
        instance.Progress.Report($"Bucket {bucket} is ready");
        return new ProvisionResult(new Dictionary<string, string>
        {
            ["account"] = account,
            ["bucket"] = bucket,
            ["endpointUrl"] = EndpointUrl(backend).AbsoluteUri.TrimEnd('/'),
        });
    }

    /// <inheritdoc />
    public async Task UpdateAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var account = S3Names.Account(instance.InstanceId);
        var quota = Quota(instance.Limits);
        using var store = Provisioner(instance.Backend);

        await RequireAccountAsync(store, instance, account, ct);
        await ApplyQuotaAsync(store, instance, account, quota, ct);
        _logger.LogInformation("Updated S3 account {Account} on {Backend}: quota {Quota}", account, instance.Backend, Describe(quota));
    }

    /// <inheritdoc />
    public async Task DeprovisionAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var account = S3Names.Account(instance.InstanceId);

        instance.Progress.Report($"Deleting account {account} with its buckets, objects and keys");
        // The bindings' keys belong to the account and go with it: no binding reaches anything afterwards.
        using var store = Provisioner(instance.Backend);
        await store.DeleteAccountAsync(account, ct);
        _logger.LogInformation("Deprovisioned S3 account {Account} on {Backend}", account, instance.Backend);
    }

    /// <inheritdoc />
    /// <remarks>
    /// <para>
    /// Each generation is an access key of its own (<see cref="S3Names.BindingAccessKeyId"/>) on the instance's
    /// account, so a rotation's new key leaves the old one working until it is retired. Binding the same
    /// generation again gives its key a fresh secret.
    /// </para>
    /// <para>
    /// A repair (<see cref="BindingContext.Existing"/>) also gets a fresh secret for the same key id: RGW Admin Ops
    /// takes a chosen secret only as the query parameter <c>secret-key</c> (a request body is answered 501), and the
    /// gateway writes every request's query string to its log, so re-using the secret would leave it there.
    /// </para>
    /// </remarks>
    public async Task<BindingCredentials> BindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var backend = instance.Backend;
        var account = S3Names.Account(instance.InstanceId);
        var keyId = S3Names.BindingAccessKeyId(binding.BindingId, binding.Generation);
        using var store = Provisioner(backend);

        await RequireAccountAsync(store, instance, account, ct);
        instance.Progress.Report($"Creating access key {keyId} for account {account}");
        // The same key id again gets a fresh secret: a repeated bind rotates it.
        var secret = await store.IssueKeyAsync(account, keyId, ct);
        _logger.LogInformation("Created S3 access key {KeyId} for account {Account} on {Backend}", keyId, account, backend);

        var credentials = new OrderedDictionary<string, string>
        {
            ["endpointUrl"] = EndpointUrl(backend).AbsoluteUri.TrimEnd('/'),
            ["region"] = Region(backend),
            ["bucket"] = S3Names.Bucket(instance.InstanceId),
            ["accessKeyId"] = keyId,
            ["secretAccessKey"] = secret,
            ["forcePathStyle"] = "true",
        };
        if (backend.Tls)
        {
            // The root the app trusts for the gateway's https endpoint (the platform CA, not a public one).
            credentials["ca.crt"] = backend.RequireCa().CertificatePem;
        }

        return new BindingCredentials(credentials);
    }

    /// <inheritdoc />
    /// <remarks>Revokes that generation's key only; S3 has no sessions, so the server refuses it from the next
    /// request on, presigned URLs made with it included. The binding's other keys keep working.</remarks>
    public async Task RetireAsync(BindingContext binding, int generation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var account = S3Names.Account(instance.InstanceId);
        var keyId = S3Names.BindingAccessKeyId(binding.BindingId, generation);

        instance.Progress.Report($"Revoking access key {keyId} (credentials generation {generation})");
        using var store = Provisioner(instance.Backend);
        await store.RevokeKeyAsync(account, keyId, ct);
        _logger.LogInformation("Revoked S3 access key {KeyId} of account {Account} on {Backend}", keyId, account, instance.Backend);
    }

    /// <inheritdoc />
    /// <remarks>Revokes the keys of every generation, found in the account's key list by id
    /// (<see cref="S3Names.IsKeyOfBinding"/>), so keys a crashed rotation left behind go too. S3 has no sessions:
    /// every request is signed, so the server refuses the keys from the next request on, presigned URLs made with
    /// them included.</remarks>
    public async Task UnbindAsync(BindingContext binding, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var instance = binding.Instance;
        var account = S3Names.Account(instance.InstanceId);
        using var store = Provisioner(instance.Backend);

        // No account (deprovisioned, never provisioned): its keys went with it.
        var keys = (await store.GetAccountAsync(account, ct))?.AccessKeyIds ?? [];
        foreach (var keyId in keys.Where(k => S3Names.IsKeyOfBinding(k, binding.BindingId)))
        {
            instance.Progress.Report($"Revoking access key {keyId}");
            await store.RevokeKeyAsync(account, keyId, ct);
            _logger.LogInformation("Revoked S3 access key {KeyId} of account {Account} on {Backend}", keyId, account, instance.Backend);
        }
    }

    /// <inheritdoc />
    public async Task<HealthReport> CheckAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var account = S3Names.Account(instance.InstanceId);
        var bucket = S3Names.Bucket(instance.InstanceId);
        try
        {
            using var store = Provisioner(instance.Backend);
            var found = await store.GetAccountAsync(account, ct);
            if (found is null)
            {
                return new HealthReport(false, $"account {account} does not exist");
            }

            if (found.Suspended)
            {
                return new HealthReport(false, $"account {account} is suspended");
            }

            if (await store.GetBucketAsync(account, bucket, ct) is not { } usage)
            {
                return new HealthReport(false, $"bucket {bucket} of account {account} does not exist");
            }

            return new HealthReport(true,
                $"bucket {bucket} holds {usage.Objects.ToString(CultureInfo.InvariantCulture)} object(s), " +
                $"{FormatMb(usage.Bytes)}; quota {Describe(found.Quota)}");
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException or InvalidOperationException && !ct.IsCancellationRequested)
        {
            return new HealthReport(false, $"backend {instance.Backend} not usable: {e.Message}");
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The instance exists while its account holds its bucket. The account must not be suspended, may hold one bucket,
    /// has the plan's quota and only the bindings' keys (the provisioning key is revoked when provisioning ends); every
    /// binding key on the account is listed, also when the bucket is gone.
    /// </remarks>
    public async Task<Observation> ObserveAsync(InstanceContext instance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var account = S3Names.Account(instance.InstanceId);
        var bucket = S3Names.Bucket(instance.InstanceId);
        var quota = Quota(instance.Limits);
        using var store = Provisioner(instance.Backend);

        if (await store.GetAccountAsync(account, ct) is not { } found)
        {
            return Observation.Absent();
        }

        var differences = new List<string>();
        if (found.Suspended)
        {
            differences.Add($"account {account} is suspended");
        }

        if (found.MaxBuckets != BucketsPerAccount)
        {
            differences.Add($"account {account} may hold {found.MaxBuckets.ToString(CultureInfo.InvariantCulture)} buckets, " +
                $"not {BucketsPerAccount.ToString(CultureInfo.InvariantCulture)}");
        }

        if (found.Quota != quota)
        {
            differences.Add($"the quota of account {account} is {Describe(found.Quota)}, the plan says {Describe(quota)}");
        }

        // Key ids are not secret; a key of no binding reaches the bucket like a binding's would.
        differences.AddRange(found.AccessKeyIds.Where(k => S3Names.ParseBindingAccessKeyId(k) is null)
            .Select(k => $"account {account} has the access key {k}, which no binding holds"));

        var exists = await store.GetBucketAsync(account, bucket, ct) is not null;
        return Observation.Of(exists, differences, found.AccessKeyIds.Select(S3Names.ParseBindingAccessKeyId));
    }

    /// <inheritdoc />
    public async Task<HealthReport> TestBackendAsync(BackendEndpoint backend, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(backend);
        try
        {
            using var store = Provisioner(backend);
            return await store.TestAsync(ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Auth, DNS, network and configuration failures are the answer to "test connection", not a crash.
            _logger.LogWarning("Backend test of {Backend} failed: {Error}", backend, e.Message);
            return new HealthReport(false, e.Message);
        }
    }

    /// <summary>
    /// The client settings every app needs against RGW as well (so the portal hands out <c>forcePathStyle</c>):
    /// path-style addressing, which needs no wildcard DNS, and checksums only where S3 requires them, since
    /// AWSSDK.S3 4's default trailing checksums (aws-chunked uploads) are refused by RGW 16 with a bare 400.
    /// </summary>
    public static AmazonS3Config ClientConfig(Uri endpointUrl, string region)
    {
        ArgumentNullException.ThrowIfNull(endpointUrl);
        return new AmazonS3Config
        {
            ServiceURL = endpointUrl.AbsoluteUri,
            ForcePathStyle = true,
            AuthenticationRegion = region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 2,
            Timeout = RgwAdminOpsProvisioner.RequestTimeout,
        };
    }

    /// <summary>
    /// The account quota for a plan's limits: <c>maxSizeMb</c> (MiB) and <c>maxObjects</c>; a missing limit or
    /// -1 means no limit.
    /// </summary>
    internal static ObjectStoreQuota Quota(IReadOnlyDictionary<string, int> planLimits)
    {
        ArgumentNullException.ThrowIfNull(planLimits);
        long? Limit(string name)
        {
            if (!planLimits.TryGetValue(name, out var n))
            {
                return null;
            }

            ArgumentOutOfRangeException.ThrowIfLessThan(n, -1, $"{nameof(InstanceContext.Limits)}[{name}]");
            return n == -1 ? null : n;
        }

        return new ObjectStoreQuota(Limit(MaxSizeLimit) * BytesPerMb, Limit(MaxObjectsLimit));
    }

    /// <summary>
    /// The client settings of <see cref="ClientConfig(Uri, string)"/> for a backend's gateway; on a TLS backend its
    /// HTTP clients trust the platform CA alone.
    /// </summary>
    internal static AmazonS3Config ClientConfig(BackendEndpoint backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var config = ClientConfig(EndpointUrl(backend), Region(backend));
        if (backend.Tls)
        {
            config.HttpClientFactory = new PlatformCaHttpClientFactory(backend.RequireCa());
        }

        return config;
    }

    /// <summary>
    /// The backend's S3 URL: the <c>endpointUrl</c> setting, or <c>http://Host:Port</c> (<c>https://</c> on a TLS
    /// backend, which refuses an http <c>endpointUrl</c>: its gateway serves https only).
    /// </summary>
    internal static Uri EndpointUrl(BackendEndpoint backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var value = backend.Setting(EndpointUrlSetting);
        if (value is null)
        {
            var host = backend.Host.Contains(':') && !backend.Host.StartsWith('[') ? $"[{backend.Host}]" : backend.Host;
            var scheme = backend.Tls ? Uri.UriSchemeHttps : Uri.UriSchemeHttp;
            value = $"{scheme}://{host}:{backend.Port.ToString(CultureInfo.InvariantCulture)}";
        }

        if (!Uri.TryCreate(value.TrimEnd('/') + "/", UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https")
            || uri.UserInfo.Length > 0
            || uri.Query.Length > 0
            || uri.AbsolutePath != "/")
        {
            throw new InvalidOperationException(
                $"The S3 URL of backend {backend} must be an http(s) URL without credentials, path or query " +
                $"(setting {EndpointUrlSetting}, or Host and Port).");
        }

        if (backend.Tls && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new InvalidOperationException(
                $"Backend {backend} serves TLS (tls=true), but its {EndpointUrlSetting} setting is not an https URL.");
        }

        return uri;
    }

    /// <summary>The region of the backend: the <c>region</c> setting or <see cref="DefaultRegion"/>.</summary>
    internal static string Region(BackendEndpoint backend) => backend.Setting(RegionSetting) ?? DefaultRegion;

    /// <summary>
    /// The Admin Ops API of a backend, to dispose after the operation; on a TLS backend the gateway's certificate must
    /// chain to the platform CA and nothing else.
    /// </summary>
    private RgwAdminOpsProvisioner Provisioner(BackendEndpoint backend) =>
        new(_httpClientFactory, HttpClientName, EndpointUrl(backend), backend, Region(backend), _time);

    private static async Task ApplyQuotaAsync(
        IObjectStoreProvisioner store, InstanceContext instance, string account, ObjectStoreQuota quota, CancellationToken ct)
    {
        instance.Progress.Report($"Setting the quota of account {account} to {Describe(quota)}");
        await store.SetQuotaAsync(account, quota, ct);
    }

    private static async Task RequireAccountAsync(
        IObjectStoreProvisioner store, InstanceContext instance, string account, CancellationToken ct)
    {
        if (await store.GetAccountAsync(account, ct) is null)
        {
            throw new InvalidOperationException(
                $"Account {account} does not exist on {instance.Backend}; provision the instance first.");
        }
    }

    private async Task CreateBucketAsync(
        IObjectStoreProvisioner store, BackendEndpoint backend, string account, string bucket, string keyId, string secret,
        CancellationToken ct)
    {
        using var s3 = new AmazonS3Client(new BasicAWSCredentials(keyId, secret), ClientConfig(backend));
        var deadline = _time.GetUtcNow() + NewKeyWait;
        while (true)
        {
            try
            {
                await s3.PutBucketAsync(new PutBucketRequest { BucketName = bucket }, ct);
                return;
            }
            catch (AmazonS3Exception e) when (e.ErrorCode == "InvalidAccessKeyId" && _time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), _time, ct);
            }
            catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists" or "TooManyBuckets"
                || e.StatusCode == HttpStatusCode.Conflict)
            {
                // An earlier try made it (RGW answers TooManyBuckets then, as the account may hold one) - or the
                // account holds another bucket, which only an app could have made.
                if (await store.GetBucketAsync(account, bucket, ct) is not null)
                {
                    return;
                }

                throw new InvalidOperationException(
                    $"Bucket {bucket} cannot be created in account {account} on {backend}: {e.ErrorCode}.", e);
            }
        }
    }

    private static string Describe(ObjectStoreQuota quota) =>
        quota.MaxBytes is null && quota.MaxObjects is null
            ? "unlimited"
            : $"{(quota.MaxBytes is { } b ? FormatMb(b) : "unlimited MB")}, " +
              $"{(quota.MaxObjects is { } o ? o.ToString(CultureInfo.InvariantCulture) : "unlimited")} objects";

    private static string FormatMb(long bytes) =>
        (bytes / (double)BytesPerMb).ToString("0.##", CultureInfo.InvariantCulture) + " MB";
}
