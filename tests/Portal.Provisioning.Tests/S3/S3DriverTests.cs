using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using Portal.Provisioning.S3;

namespace Portal.Provisioning.Tests.S3;

/// <summary>Integration tests against the real Ceph RADOS Gateway of <see cref="TestS3"/>, with AWSSDK.S3 as an app.</summary>
public sealed class S3DriverTests
{
    private const int KiB = 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Dictionary<string, int> Limits(int? maxSizeMb = null, int? maxObjects = null)
    {
        var limits = new Dictionary<string, int>();
        if (maxSizeMb is { } size)
        {
            limits["maxSizeMb"] = size;
        }

        if (maxObjects is { } objects)
        {
            limits["maxObjects"] = objects;
        }

        return limits;
    }

    [Fact]
    public async Task ProvisionAsync_CalledTwice_IsIdempotent()
    {
        await using var scope = new S3Scope();
        var instance = scope.NewInstance();
        var bucket = S3Names.Bucket(instance.InstanceId);

        var first = await scope.Driver.ProvisionAsync(instance, Ct);
        var second = await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(first.Outputs, second.Outputs);
        Assert.Equal(S3Names.Account(instance.InstanceId), first.Outputs["account"]);
        Assert.Equal(bucket, first.Outputs["bucket"]);
        Assert.Equal(TestS3.Url.AbsoluteUri.TrimEnd('/'), first.Outputs["endpointUrl"]);
        var user = (await TestS3.UserAsync(instance.InstanceId))!.Value;
        Assert.Equal(S3Names.Account(instance.InstanceId), user.GetProperty("tenant").GetString());
        Assert.Equal(1, user.GetProperty("max_buckets").GetInt32());
        var found = (await TestS3.BucketAsync(instance.InstanceId))!.Value;
        Assert.Equal(TestS3.UserId(instance.InstanceId), found.GetProperty("owner").GetString());
        // The key that made the bucket is gone: the account has no keys until a binding gets one.
        Assert.Empty(await TestS3.KeyIdsAsync(instance.InstanceId));
        Assert.Contains($"Creating bucket {bucket}", ((RecordingProgress)instance.Progress).Lines);
    }

    [Fact]
    public async Task ProvisionAsync_PlanLimits_AppliedAsUserQuota()
    {
        await using var scope = new S3Scope();
        var instance = scope.NewInstance(Limits(maxSizeMb: 5, maxObjects: 100));

        await scope.Driver.ProvisionAsync(instance, Ct);

        var quota = (await TestS3.UserAsync(instance.InstanceId))!.Value.GetProperty("user_quota");
        Assert.True(quota.GetProperty("enabled").GetBoolean());
        Assert.Equal(5L * 1024 * 1024, quota.GetProperty("max_size").GetInt64());
        Assert.Equal(100, quota.GetProperty("max_objects").GetInt64());
    }

    [Fact]
    public async Task ProvisionAsync_NoPlanLimits_QuotaDisabled()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();

        var quota = (await TestS3.UserAsync(instance.InstanceId))!.Value.GetProperty("user_quota");

        Assert.False(quota.GetProperty("enabled").GetBoolean());
        Assert.Equal(-1, quota.GetProperty("max_size").GetInt64());
        Assert.Equal(-1, quota.GetProperty("max_objects").GetInt64());
    }

    [Fact]
    public async Task ProvisionAsync_AfterCrashWithBareUserAndKey_CreatesBucketAndRevokesKey()
    {
        await using var scope = new S3Scope();
        var instance = scope.NewInstance(Limits(maxObjects: 7));
        var uid = TestS3.UserId(instance.InstanceId);
        // The state a crash right after creating the user and the bucket-making key leaves behind.
        Assert.Equal(HttpStatusCode.OK, (await TestS3.AdminAsync(HttpMethod.Put, "user",
            [("uid", uid), ("display-name", "half made"), ("max-buckets", "5"), ("generate-key", "false")])).Status);
        Assert.Equal(HttpStatusCode.OK, (await TestS3.AdminAsync(HttpMethod.Put, "user",
        [
            ("key", null), ("uid", uid), ("key-type", "s3"),
            ("access-key", S3Names.ProvisioningAccessKeyId(instance.InstanceId)), ("generate-key", "true"),
        ])).Status);

        await scope.Driver.ProvisionAsync(instance, Ct);

        var user = (await TestS3.UserAsync(instance.InstanceId))!.Value;
        Assert.Equal(1, user.GetProperty("max_buckets").GetInt32());
        Assert.Equal(7, user.GetProperty("user_quota").GetProperty("max_objects").GetInt64());
        Assert.NotNull(await TestS3.BucketAsync(instance.InstanceId));
        Assert.Empty(await TestS3.KeyIdsAsync(instance.InstanceId));
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task ProvisionAsync_AfterCrashBeforeKeyRevoked_RevokesKey()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        // A crash between making the bucket and revoking the key that made it.
        Assert.Equal(HttpStatusCode.OK, (await TestS3.AdminAsync(HttpMethod.Put, "user",
        [
            ("key", null), ("uid", TestS3.UserId(instance.InstanceId)), ("key-type", "s3"),
            ("access-key", S3Names.ProvisioningAccessKeyId(instance.InstanceId)), ("generate-key", "true"),
        ])).Status);

        await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Empty(await TestS3.KeyIdsAsync(instance.InstanceId));
        Assert.NotNull(await TestS3.BucketAsync(instance.InstanceId));
    }

    [Fact]
    public async Task ProvisionAsync_SizeQuota_PutBeyondRefused()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync(Limits(maxSizeMb: 1));
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        var bucket = credentials.Values["bucket"];
        using var s3 = TestS3.AppClient(credentials);
        await TestS3.PutBytesAsync(s3, bucket, "a", 600 * KiB);

        var e = await Assert.ThrowsAsync<AmazonS3Exception>(() => TestS3.PutBytesAsync(s3, bucket, "b", 600 * KiB));

        Assert.Equal("QuotaExceeded", e.ErrorCode);
        Assert.Equal(HttpStatusCode.Forbidden, e.StatusCode);
        Assert.Equal(["a"], await TestS3.ListAsync(s3, bucket));
    }

    [Fact]
    public async Task ProvisionAsync_ObjectQuota_ThirdObjectRefused()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync(Limits(maxObjects: 2));
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        var bucket = credentials.Values["bucket"];
        using var s3 = TestS3.AppClient(credentials);
        await TestS3.PutAsync(s3, bucket, "one", "1");
        await TestS3.PutAsync(s3, bucket, "two", "2");

        Assert.Equal("QuotaExceeded", await TestS3.ErrorCodeAsync(() => TestS3.PutAsync(s3, bucket, "three", "3")));
    }

    [Fact]
    public async Task UpdateAsync_RaisedObjectQuota_AdmitsMoreObjects()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync(Limits(maxObjects: 1));
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        var bucket = credentials.Values["bucket"];
        using var s3 = TestS3.AppClient(credentials);
        await TestS3.PutAsync(s3, bucket, "one", "1");
        Assert.Equal("QuotaExceeded", await TestS3.ErrorCodeAsync(() => TestS3.PutAsync(s3, bucket, "two", "2")));

        await scope.Driver.UpdateAsync(instance with { Limits = Limits(maxObjects: 3) }, Ct);

        await TestS3.PutAsync(s3, bucket, "two", "2");
        Assert.Equal(["one", "two"], await TestS3.ListAsync(s3, bucket));
        var quota = (await TestS3.UserAsync(instance.InstanceId))!.Value.GetProperty("user_quota");
        Assert.Equal(3, quota.GetProperty("max_objects").GetInt64());
    }

    [Fact]
    public async Task UpdateAsync_ChangedAndDroppedLimits_AppliedToQuota()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync(Limits(maxSizeMb: 2, maxObjects: 2));

        await scope.Driver.UpdateAsync(instance with { Limits = Limits(maxSizeMb: 8) }, Ct);

        // The plan no longer limits objects, so neither does the quota.
        var quota = (await TestS3.UserAsync(instance.InstanceId))!.Value.GetProperty("user_quota");
        Assert.True(quota.GetProperty("enabled").GetBoolean());
        Assert.Equal(8L * 1024 * 1024, quota.GetProperty("max_size").GetInt64());
        Assert.Equal(-1, quota.GetProperty("max_objects").GetInt64());

        await scope.Driver.UpdateAsync(instance with { Limits = Limits() }, Ct);

        quota = (await TestS3.UserAsync(instance.InstanceId))!.Value.GetProperty("user_quota");
        Assert.False(quota.GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task UpdateAsync_NotProvisioned_ThrowsInvalidOperation()
    {
        await using var scope = new S3Scope();
        var instance = scope.NewInstance(Limits(maxObjects: 2));

        await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.UpdateAsync(instance, Ct));

        Assert.Null(await TestS3.UserAsync(instance.InstanceId));
    }

    [Fact]
    public async Task BindAsync_Credentials_PutListGetDeleteObjects()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var binding = S3Scope.NewBinding(instance);

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        var v = credentials.Values;
        Assert.Equal(
            ["endpointUrl", "region", "bucket", "accessKeyId", "secretAccessKey", "forcePathStyle", .. (TestS3.Endpoint.Tls ? new[] { "ca.crt" } : [])],
            v.Keys);
        Assert.Equal(TestS3.Url.AbsoluteUri.TrimEnd('/'), v["endpointUrl"]);
        Assert.Equal("us-east-1", v["region"]);
        Assert.Equal(S3Names.Bucket(instance.InstanceId), v["bucket"]);
        Assert.Equal(S3Names.BindingAccessKeyId(binding.BindingId), v["accessKeyId"]);
        Assert.True(v["secretAccessKey"].Length >= 32);
        Assert.Equal("true", v["forcePathStyle"]);
        Assert.DoesNotContain(v["secretAccessKey"], credentials.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(((RecordingProgress)instance.Progress).Lines, l => l.Contains(v["secretAccessKey"], StringComparison.Ordinal));

        using var s3 = TestS3.AppClient(credentials);
        var bucket = v["bucket"];
        Assert.Empty(await TestS3.ListAsync(s3, bucket));
        await TestS3.PutAsync(s3, bucket, "reports/2026.txt", "hello");
        await TestS3.PutAsync(s3, bucket, "readme.txt", "read me");
        Assert.Equal(["readme.txt", "reports/2026.txt"], await TestS3.ListAsync(s3, bucket));
        Assert.Equal("hello", await TestS3.GetAsync(s3, bucket, "reports/2026.txt"));
        await s3.DeleteObjectAsync(bucket, "reports/2026.txt", Ct);
        await s3.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = bucket, Objects = [new KeyVersion { Key = "readme.txt" }] }, Ct);
        Assert.Empty(await TestS3.ListAsync(s3, bucket));
    }

    [Fact]
    public async Task BindAsync_SecondBinding_ReadsWhatFirstWrote()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var first = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        var second = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        using (var writer = TestS3.AppClient(first))
        {
            await TestS3.PutAsync(writer, first.Values["bucket"], "shared", "from first");
        }

        using var reader = TestS3.AppClient(second);

        Assert.Equal("from first", await TestS3.GetAsync(reader, second.Values["bucket"], "shared"));
        Assert.NotEqual(first.Values["accessKeyId"], second.Values["accessKeyId"]);
    }

    [Fact]
    public async Task BindAsync_OtherInstancesBucket_Refused()
    {
        await using var scope = new S3Scope();
        var mine = await scope.ProvisionedAsync();
        var other = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(mine), Ct);
        var theirs = await scope.Driver.BindAsync(S3Scope.NewBinding(other), Ct);
        var otherBucket = theirs.Values["bucket"];
        using (var owner = TestS3.AppClient(theirs))
        {
            await TestS3.PutAsync(owner, otherBucket, "secret.txt", "theirs");
        }

        using var s3 = TestS3.AppClient(credentials);

        // By its plain name the other bucket is not even visible: names resolve in the key's own tenant.
        Assert.Equal("NoSuchBucket", await TestS3.ErrorCodeAsync(() => TestS3.GetAsync(s3, otherBucket, "secret.txt")));
        Assert.Equal("NoSuchBucket", await TestS3.ErrorCodeAsync(() => TestS3.ListAsync(s3, otherBucket)));
        // Named with its tenant (RGW's tenant:bucket syntax), it is refused: read, list, write and delete.
        var qualified = $"/{S3Names.Account(other.InstanceId)}:{otherBucket}";
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"{qualified}/secret.txt"),
            (HttpMethod.Get, $"{qualified}?list-type=2"),
            (HttpMethod.Put, $"{qualified}/mine.txt"),
            (HttpMethod.Delete, $"{qualified}/secret.txt"),
            (HttpMethod.Delete, qualified),
        })
        {
            Assert.Equal((HttpStatusCode.Forbidden, "AccessDenied"), await TestS3.SignedAsync(method, path, credentials));
        }

        // The same signed requests work for the bucket's own binding, so the refusals above are permission checks.
        Assert.Equal((HttpStatusCode.OK, null), await TestS3.SignedAsync(HttpMethod.Get, $"{qualified}/secret.txt", theirs));
        using var owner2 = TestS3.AppClient(theirs);
        Assert.Equal(["secret.txt"], await TestS3.ListAsync(owner2, otherBucket));
    }

    [Fact]
    public async Task BindAsync_ServerWideThings_Refused()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        var v = credentials.Values;
        using var s3 = TestS3.AppClient(credentials);

        // The listing shows the instance's own bucket only, and the account may not make another.
        var buckets = await s3.ListBucketsAsync(Ct);
        Assert.Equal([v["bucket"]], (buckets.Buckets ?? []).Select(b => b.BucketName));
        Assert.Equal("TooManyBuckets", await TestS3.ErrorCodeAsync(() =>
            s3.PutBucketAsync(new PutBucketRequest { BucketName = "pi-" + Guid.NewGuid().ToString("N") }, Ct)));
        // The admin API refuses the binding's key: no users, no buckets, not even its own user.
        foreach (var (resource, parameters) in new (string, (string, string?)[])[]
        {
            ("user", [("uid", TestS3.UserId(instance.InstanceId))]),
            ("user", [("uid", TestS3.Endpoint.AdminUser)]),
            ("bucket", []),
            ("metadata/user", []),
        })
        {
            var (status, body) = await TestS3.AdminAsync(HttpMethod.Get, resource, parameters, v["accessKeyId"], v["secretAccessKey"]);
            Assert.Equal(HttpStatusCode.Forbidden, status);
            Assert.Equal("AccessDenied", body!.Value.GetProperty("Code").GetString());
        }

        var (quotaStatus, _) = await TestS3.AdminAsync(HttpMethod.Put, "user",
            [("quota", null), ("uid", TestS3.UserId(instance.InstanceId)), ("quota-type", "user"), ("enabled", "false")],
            v["accessKeyId"], v["secretAccessKey"]);
        Assert.Equal(HttpStatusCode.Forbidden, quotaStatus);
    }

    [Fact]
    public async Task BindAsync_CalledAgain_RotatesSecret()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var binding = S3Scope.NewBinding(instance);
        var before = await scope.Driver.BindAsync(binding, Ct);

        var after = await scope.Driver.BindAsync(binding, Ct);

        Assert.Equal(before.Values["accessKeyId"], after.Values["accessKeyId"]);
        Assert.NotEqual(before.Values["secretAccessKey"], after.Values["secretAccessKey"]);
        Assert.Equal([before.Values["accessKeyId"]], await TestS3.KeyIdsAsync(instance.InstanceId));
        using var old = TestS3.AppClient(before);
        Assert.Equal("SignatureDoesNotMatch", await TestS3.ErrorCodeAsync(() => TestS3.ListAsync(old, before.Values["bucket"])));
        using var current = TestS3.AppClient(after);
        Assert.Empty(await TestS3.ListAsync(current, after.Values["bucket"]));
    }

    [Fact]
    public async Task BindAsync_NotProvisioned_ThrowsInvalidOperation()
    {
        await using var scope = new S3Scope();
        var instance = scope.NewInstance();

        await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct));

        Assert.Null(await TestS3.UserAsync(instance.InstanceId));
    }

    [Fact]
    public async Task UnbindAsync_Key_RefusedOnNextRequestAndPresignedUrlsDie()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var binding = S3Scope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        var kept = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        var bucket = credentials.Values["bucket"];
        // An app's client in use, and a link it handed out: the nearest S3 has to an open session.
        using var s3 = TestS3.AppClient(credentials);
        await TestS3.PutAsync(s3, bucket, "report.txt", "q3");
        var url = await s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = bucket,
            Key = "report.txt",
            Verb = HttpVerb.GET,
            Protocol = TestS3.UrlProtocol(credentials),
            Expires = DateTime.UtcNow.AddMinutes(10),
        });
        Assert.Equal(HttpStatusCode.OK, await TestS3.GetStatusAsync(url));

        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.Equal("InvalidAccessKeyId", await TestS3.ErrorCodeAsync(() => TestS3.ListAsync(s3, bucket)));
        Assert.Equal("InvalidAccessKeyId", await TestS3.ErrorCodeAsync(() => TestS3.GetAsync(s3, bucket, "report.txt")));
        Assert.Equal(HttpStatusCode.Forbidden, await TestS3.GetStatusAsync(url));
        Assert.DoesNotContain(credentials.Values["accessKeyId"], await TestS3.KeyIdsAsync(instance.InstanceId));
        // The instance's other binding and its objects are untouched.
        using var other = TestS3.AppClient(kept);
        Assert.Equal("q3", await TestS3.GetAsync(other, bucket, "report.txt"));
    }

    [Fact]
    public async Task RetireAsync_AfterRotation_BothKeysWorkInOverlapThenOldRefusedNewWorks()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var gen0 = S3Scope.NewBinding(instance);
        var gen1 = gen0 with { Generation = 1 };
        var old = await scope.Driver.BindAsync(gen0, Ct);
        var fresh = await scope.Driver.BindAsync(gen1, Ct);
        var bucket = old.Values["bucket"];
        using var oldClient = TestS3.AppClient(old);
        using var freshClient = TestS3.AppClient(fresh);

        // The overlap: two keys of one binding, each working, on the same bucket.
        Assert.Equal(S3Names.BindingAccessKeyId(gen0.BindingId) + "G1", fresh.Values["accessKeyId"]);
        Assert.Equal(
            [old.Values["accessKeyId"], fresh.Values["accessKeyId"]],
            (await TestS3.KeyIdsAsync(instance.InstanceId)).Order(StringComparer.Ordinal));
        await TestS3.PutAsync(oldClient, bucket, "from-old.txt", "0");
        await TestS3.PutAsync(freshClient, bucket, "from-new.txt", "1");
        Assert.Equal("1", await TestS3.GetAsync(oldClient, bucket, "from-new.txt"));
        Assert.Equal("0", await TestS3.GetAsync(freshClient, bucket, "from-old.txt"));

        await scope.Driver.RetireAsync(gen1, 0, Ct);

        Assert.Equal("InvalidAccessKeyId", await TestS3.ErrorCodeAsync(() => TestS3.ListAsync(oldClient, bucket)));
        Assert.Equal("InvalidAccessKeyId", await TestS3.ErrorCodeAsync(() => TestS3.PutAsync(oldClient, bucket, "late.txt", "x")));
        // Under load (the whole suite on one gateway) RGW answered one request right after the user's key change
        // with a bare 400 while it reloaded the user; a second try a moment later succeeds.
        Assert.Equal(["from-new.txt", "from-old.txt"], await SoonAsync(() => TestS3.ListAsync(freshClient, bucket)));
        Assert.Equal([fresh.Values["accessKeyId"]], await TestS3.KeyIdsAsync(instance.InstanceId));

        // Idempotent: a retried retire changes nothing.
        await scope.Driver.RetireAsync(gen1, 0, Ct);
        await TestS3.PutAsync(freshClient, bucket, "after-retry.txt", "2");
    }

    [Fact]
    public async Task UnbindAsync_AfterRotations_EveryGenerationsKeyRefused()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var binding = S3Scope.NewBinding(instance);
        var kept = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        // Generations 0 to 2, none retired: what a crash in the middle of rotations leaves.
        var generations = new List<BindingCredentials>();
        for (var g = 0; g <= 2; g++)
        {
            generations.Add(await scope.Driver.BindAsync(binding with { Generation = g }, Ct));
        }

        var bucket = kept.Values["bucket"];
        foreach (var credentials in generations)
        {
            using var s3 = TestS3.AppClient(credentials);
            Assert.Empty(await TestS3.ListAsync(s3, bucket));
        }

        // Called with the binding as the portal first knew it: the later keys are found in the account's key list.
        await scope.Driver.UnbindAsync(binding, Ct);

        foreach (var credentials in generations)
        {
            using var s3 = TestS3.AppClient(credentials);
            Assert.Equal("InvalidAccessKeyId", await TestS3.ErrorCodeAsync(() => TestS3.ListAsync(s3, bucket)));
        }

        Assert.Equal([kept.Values["accessKeyId"]], await TestS3.KeyIdsAsync(instance.InstanceId));
        using var other = TestS3.AppClient(kept);
        await TestS3.PutAsync(other, bucket, "still.txt", "here");
        await scope.Driver.UnbindAsync(binding with { Generation = 2 }, Ct);
    }

    [Fact]
    public async Task UnbindAsync_NeverBound_Succeeds()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();

        await scope.Driver.UnbindAsync(S3Scope.NewBinding(instance), Ct);
        await scope.Driver.UnbindAsync(S3Scope.NewBinding(scope.NewInstance()), Ct);

        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task DeprovisionAsync_CalledTwice_NothingLeft()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync(Limits(maxSizeMb: 10));
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        using var s3 = TestS3.AppClient(credentials);
        for (var i = 0; i < 5; i++)
        {
            await TestS3.PutBytesAsync(s3, credentials.Values["bucket"], $"data/{i}", 100 * KiB);
        }

        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Null(await TestS3.UserAsync(instance.InstanceId));
        Assert.Null(await TestS3.BucketAsync(instance.InstanceId));
        Assert.Empty(await TestS3.MetadataOfAsync("user", instance.InstanceId));
        Assert.Empty(await TestS3.MetadataOfAsync("bucket", instance.InstanceId));
        Assert.Empty(await TestS3.MetadataOfAsync("bucket.instance", instance.InstanceId));
        Assert.Equal("InvalidAccessKeyId", await TestS3.ErrorCodeAsync(() => TestS3.ListAsync(s3, credentials.Values["bucket"])));
        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task DeprovisionAsync_BucketTheAppMadeInstead_RemovedToo()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        using var s3 = TestS3.AppClient(credentials);
        // The app replaces the instance's bucket by one of its own naming.
        await s3.DeleteBucketAsync(credentials.Values["bucket"], Ct);
        var own = "app-" + Guid.NewGuid().ToString("N");
        await s3.PutBucketAsync(new PutBucketRequest { BucketName = own }, Ct);
        await TestS3.PutAsync(s3, own, "kept?", "no");

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Null(await TestS3.UserAsync(instance.InstanceId));
        var (status, _) = await TestS3.AdminAsync(HttpMethod.Get, "bucket", [("bucket", $"{S3Names.Account(instance.InstanceId)}/{own}")]);
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Empty(await TestS3.MetadataOfAsync("bucket", instance.InstanceId));
    }

    [Fact]
    public async Task DeprovisionAsync_AfterCrashWithBucketGone_RemovesUserAndKeys()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        // A crash after the bucket was purged and before the user went.
        Assert.Equal(HttpStatusCode.OK, (await TestS3.AdminAsync(HttpMethod.Delete, "bucket",
            [("bucket", $"{S3Names.Account(instance.InstanceId)}/{S3Names.Bucket(instance.InstanceId)}"), ("purge-objects", "true")])).Status);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Null(await TestS3.UserAsync(instance.InstanceId));
        using var s3 = TestS3.AppClient(credentials);
        Assert.Equal("InvalidAccessKeyId", await TestS3.ErrorCodeAsync(() => s3.ListBucketsAsync(Ct)));
    }

    [Fact]
    public async Task DeprovisionAsync_NeverProvisioned_Succeeds()
    {
        await using var scope = new S3Scope();
        var instance = scope.NewInstance();

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task DeprovisionAsync_OtherInstance_KeepsItsBucketAndKeys()
    {
        await using var scope = new S3Scope();
        var gone = await scope.ProvisionedAsync();
        var kept = await scope.ProvisionedAsync();
        await scope.Driver.BindAsync(S3Scope.NewBinding(gone), Ct);
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(kept), Ct);
        using var s3 = TestS3.AppClient(credentials);
        await TestS3.PutAsync(s3, credentials.Values["bucket"], "still", "here");

        await scope.Driver.DeprovisionAsync(gone, Ct);

        Assert.True((await scope.Driver.CheckAsync(kept, Ct)).Healthy);
        Assert.Equal("here", await TestS3.GetAsync(s3, credentials.Values["bucket"], "still"));
    }

    [Fact]
    public async Task CheckAsync_Provisioned_ReportsHealthyWithUsage()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync(Limits(maxSizeMb: 10, maxObjects: 50));
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        using var s3 = TestS3.AppClient(credentials);
        await TestS3.PutBytesAsync(s3, credentials.Values["bucket"], "half-a-megabyte", 512 * KiB);

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.Equal($"bucket {S3Names.Bucket(instance.InstanceId)} holds 1 object(s), 0.5 MB; quota 10 MB, 50 objects", report.Message);
    }

    [Fact]
    public async Task CheckAsync_BucketDeletedByApp_ReportsUnhealthy()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct);
        using var s3 = TestS3.AppClient(credentials);
        await s3.DeleteBucketAsync(credentials.Values["bucket"], Ct);

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("does not exist", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_NotProvisioned_ReportsAccountDoesNotExist()
    {
        await using var scope = new S3Scope();
        var instance = scope.NewInstance();

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.Equal($"account {S3Names.Account(instance.InstanceId)} does not exist", report.Message);
    }

    [Fact]
    public async Task CheckAsync_GatewayUnreachable_ReportsUnhealthy()
    {
        await using var scope = new S3Scope();
        var instance = scope.NewInstance(backend: TestS3.Endpoint with { Port = 1 });

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("not reachable", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_AdminKey_ReportsHealthy()
    {
        var report = await S3Scope.NewDriver().TestBackendAsync(TestS3.Endpoint, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.Contains("may manage users and buckets", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_WrongSecret_ReportsUnhealthy()
    {
        var backend = TestS3.Endpoint with { AdminPassword = "wrong" + Guid.NewGuid().ToString("N") };

        var report = await S3Scope.NewDriver().TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("SignatureDoesNotMatch", report.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(backend.AdminPassword, report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_BindingKeyInsteadOfAdmin_ReportsUnhealthy()
    {
        await using var scope = new S3Scope();
        var instance = await scope.ProvisionedAsync();
        var v = (await scope.Driver.BindAsync(S3Scope.NewBinding(instance), Ct)).Values;

        var report = await scope.Driver.TestBackendAsync(
            TestS3.Endpoint with { AdminUser = v["accessKeyId"], AdminPassword = v["secretAccessKey"] }, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("AccessDenied", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_NothingListening_ReportsUnhealthy()
    {
        var report = await S3Scope.NewDriver().TestBackendAsync(TestS3.Endpoint with { Port = 1 }, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("not reachable", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProvisionAsync_WrongAdminSecret_ThrowsWithCodeButNoSecret()
    {
        var backend = TestS3.Endpoint with { AdminPassword = "wrong" + Guid.NewGuid().ToString("N") };
        var instance = new InstanceContext(Guid.NewGuid(), backend, new Dictionary<string, int>(), new RecordingProgress());

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => S3Scope.NewDriver().ProvisionAsync(instance, Ct));

        Assert.Equal(HttpStatusCode.Forbidden, e.StatusCode);
        Assert.Contains("GET /admin/user?uid", e.Message, StringComparison.Ordinal);
        Assert.Contains("SignatureDoesNotMatch", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(backend.AdminPassword, e.ToString(), StringComparison.Ordinal);
        Assert.Null(await TestS3.UserAsync(instance.InstanceId));
    }

    /// <summary>Runs <paramref name="call"/>, trying again (up to 5 times, 300 ms apart) on a bare 400 from the gateway.</summary>
    private static async Task<T> SoonAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Amazon.S3.AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.BadRequest && attempt < 5)
            {
                await Task.Delay(300, Ct);
            }
        }
    }
}
