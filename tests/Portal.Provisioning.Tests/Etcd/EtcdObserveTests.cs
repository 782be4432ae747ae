using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Portal.Provisioning.Etcd;

namespace Portal.Provisioning.Tests.Etcd;

/// <summary>
/// Drift detection and repair against the real etcd: what <see cref="EtcdDriver.ObserveAsync"/> sees after auth changes
/// made by hand with the admin's gRPC client, and a repair that re-uses the password.
/// </summary>
[Collection(TestEtcd.Collection)]
public sealed class EtcdObserveTests : BindingObserveTests<EtcdDriver>
{
    protected override string SecretKey => "password";

    private protected override DriverScope<EtcdDriver> NewScope() => new EtcdScope();

    private protected override async Task DeleteInstanceByHandAsync(InstanceContext instance)
    {
        using var admin = TestEtcd.AdminClient();
        await admin.RoleDeleteAsync(new AuthRoleDeleteRequest { Role = EtcdNames.Role(instance.InstanceId) }, cancellationToken: Ct);
    }

    private protected override async Task DeleteGenerationByHandAsync(BindingContext binding)
    {
        using var admin = TestEtcd.AdminClient();
        await admin.UserDeleteAsync(new AuthUserDeleteRequest
        {
            Name = EtcdNames.BindingUser(binding.Instance.InstanceId, binding.BindingId, binding.Generation),
        }, cancellationToken: Ct);
    }

    private protected override async Task AssertCredentialsWorkAsync(BindingCredentials credentials)
    {
        using var app = TestEtcd.AppClient(credentials);
        var key = credentials.Values["prefix"] + Guid.NewGuid().ToString("N");
        await app.PutAsync(key, "v", cancellationToken: Ct);
        Assert.Equal("v", await app.GetValAsync(key, cancellationToken: Ct));
    }

    private protected override async Task AssertCredentialsRefusedAsync(BindingCredentials credentials)
    {
        using var anonymous = TestEtcd.AnonymousClient();
        var e = await Assert.ThrowsAsync<RpcException>(() => anonymous.AuthenticateAsync(new AuthenticateRequest
        {
            Name = credentials.Values["username"],
            Password = credentials.Values["password"],
        }, cancellationToken: Ct));
        Assert.Contains("authentication failed", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ObserveAsync_AuthChangedByHand_NamesEachDifference()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var role = EtcdNames.Role(instance.InstanceId);
        var binding = DriverScope<EtcdDriver>.NewBinding(instance);
        var other = DriverScope<EtcdDriver>.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);
        await scope.Driver.BindAsync(other, Ct);
        var user = EtcdNames.BindingUser(instance.InstanceId, binding.BindingId);
        var otherUser = EtcdNames.BindingUser(instance.InstanceId, other.BindingId);
        var foreignRole = $"pi_{Guid.NewGuid():N}";
        using var admin = TestEtcd.AdminClient();
        await admin.RoleGrantPermissionAsync(new AuthRoleGrantPermissionRequest
        {
            Name = role,
            Perm = new Authpb.Permission { PermType = Authpb.Permission.Types.Type.Read, Key = ByteString.CopyFromUtf8("/other/secret") },
        }, cancellationToken: Ct);
        await admin.RoleAddAsync(new AuthRoleAddRequest { Name = foreignRole }, cancellationToken: Ct);
        try
        {
            await admin.UserGrantRoleAsync(new AuthUserGrantRoleRequest { User = user, Role = foreignRole }, cancellationToken: Ct);
            await admin.UserRevokeRoleAsync(new AuthUserRevokeRoleRequest { Name = otherUser, Role = role }, cancellationToken: Ct);

            var observation = await scope.Driver.ObserveAsync(instance, Ct);

            Assert.True(observation.Exists);
            Assert.Equal(
                new[]
                {
                    $"role {role} also grants READ on the key /other/secret",
                    $"user {user} also holds role {foreignRole}",
                    $"user {otherUser} does not hold role {role}",
                }.Order(StringComparer.Ordinal),
                observation.Differences.Order(StringComparer.Ordinal));
            Assert.Equal([0], observation.Bindings![binding.BindingId]);
            Assert.Equal([0], observation.Bindings[other.BindingId]);
        }
        finally
        {
            await admin.RoleDeleteAsync(new AuthRoleDeleteRequest { Role = foreignRole }, cancellationToken: Ct);
        }
    }

    [Fact]
    public async Task ObserveAsync_RoleLosesItsPrefixByHand_Named()
    {
        await using var scope = NewScope();
        var instance = await ProvisionedAsync(scope);
        var role = EtcdNames.Role(instance.InstanceId);
        var prefix = EtcdNames.KeyPrefix(instance.InstanceId);
        using var admin = TestEtcd.AdminClient();
        await admin.RoleRevokePermissionAsync(new AuthRoleRevokePermissionRequest
        {
            Role = role,
            Key = ByteString.CopyFromUtf8(prefix),
            RangeEnd = ByteString.CopyFrom(EtcdNames.PrefixRangeEnd(prefix)),
        }, cancellationToken: Ct);

        var observation = await scope.Driver.ObserveAsync(instance, Ct);

        Assert.True(observation.Exists);
        Assert.Equal([$"role {role} lacks read/write on {prefix}"], observation.Differences);
    }
}
