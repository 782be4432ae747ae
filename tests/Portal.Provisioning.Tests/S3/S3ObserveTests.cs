using System.Net;
using Portal.Provisioning.S3;

namespace Portal.Provisioning.Tests.S3;

/// <summary>
/// Drift detection and repair against the real Ceph RGW: what <see cref="S3Driver.ObserveAsync"/> sees after changes
/// made by hand through RGW Admin Ops, and a repair, which keeps the key id but needs a new secret.
/// </summary>
public sealed class S3ObserveTests : BindingObserveTests<S3Driver>
{
    protected override IReadOnlyDictionary<string, int> Plan { get; } = new Dictionary<string, int> { ["maxSizeMb"] = 5, ["maxObjects"] = 100 };

    protected override string SecretKey => "secretAccessKey";

    // RGW takes a chosen secret only in the query string, which the gateway logs (see S3Driver.BindAsync).
    protected override bool ReusesSecret => false;

    private protected override DriverScope<S3Driver> NewScope() => new S3Scope();

    private protected override async Task DeleteInstanceByHandAsync(InstanceContext instance)
    {
        var (status, _) = await TestS3.AdminAsync(HttpMethod.Delete, "bucket",
            [("bucket", $"{S3Names.Account(instance.InstanceId)}/{S3Names.Bucket(instance.InstanceId)}"), ("purge-objects", "true")]);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    private protected override async Task DeleteGenerationByHandAsync(BindingContext binding)
    {
        var (status, _) = await TestS3.AdminAsync(HttpMethod.Delete, "user",
        [
            ("key", null), ("uid", TestS3.UserId(binding.Instance.InstanceId)), ("key-type", "s3"),
            ("access-key", S3Names.BindingAccessKeyId(binding.BindingId, binding.Generation)),
        ]);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    private protected override async Task AssertCredentialsWorkAsync(BindingCredentials credentials)
    {
        using var s3 = TestS3.AppClient(credentials);
        var bucket = credentials.Values["bucket"];
        await TestS3.PutAsync(s3, bucket, "after-repair", "v");
        Assert.Equal("v", await TestS3.GetAsync(s3, bucket, "after-repair"));
    }

    private protected override async Task AssertCredentialsRefusedAsync(BindingCredentials credentials)
    {
        using var s3 = TestS3.AppClient(credentials);
        var code = await TestS3.ErrorCodeAsync(() => TestS3.ListAsync(s3, credentials.Values["bucket"]));
        Assert.Contains(code, new[] { "InvalidAccessKeyId", "SignatureDoesNotMatch" });
    }

    [Fact]
    public async Task ObserveAsync_ChangedByHand_NamesEachDifference()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var account = S3Names.Account(instance.InstanceId);
        var uid = TestS3.UserId(instance.InstanceId);
        var binding = DriverScope<S3Driver>.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        var stray = "STRAY" + Guid.NewGuid().ToString("N")[..15].ToUpperInvariant();
        Assert.Equal(HttpStatusCode.OK, (await TestS3.AdminAsync(HttpMethod.Put, "user",
            [("quota", null), ("uid", uid), ("quota-type", "user"), ("enabled", "false")])).Status);
        Assert.Equal(HttpStatusCode.OK, (await TestS3.AdminAsync(HttpMethod.Post, "user",
            [("uid", uid), ("max-buckets", "5"), ("suspended", "true")])).Status);
        Assert.Equal(HttpStatusCode.OK, (await TestS3.AdminAsync(HttpMethod.Put, "user",
            [("key", null), ("uid", uid), ("key-type", "s3"), ("access-key", stray), ("generate-key", "true")])).Status);

        var observation = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.True(observation.Exists);
        Assert.Equal(
        [
            $"account {account} is suspended",
            $"account {account} may hold 5 buckets, not 1",
            $"the quota of account {account} is unlimited, the plan says 5 MB, 100 objects",
            $"account {account} has the access key {stray}, which no binding holds",
        ], observation.Differences);
        Assert.Equal([0], observation.Bindings![binding.BindingId]);
    }

    [Fact]
    public async Task BindAsync_RepairWithExisting_SameKeyIdNewSecret()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var binding = DriverScope<S3Driver>.NewBinding(instance);
        var old = await scope.Driver.BindAsync(binding, Ct);
        await DeleteGenerationByHandAsync(binding);

        var repaired = await scope.Driver.BindAsync(binding with { Existing = old.Values }, Ct);

        Assert.Equal(old.Values["accessKeyId"], repaired.Values["accessKeyId"]);
        await AssertCredentialsWorkAsync(repaired);
    }
}
