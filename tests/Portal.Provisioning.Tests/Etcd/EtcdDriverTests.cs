using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Portal.Provisioning.Etcd;

namespace Portal.Provisioning.Tests.Etcd;

/// <summary>
/// Integration tests against the real etcd of <see cref="TestEtcd"/>, checked with the dotnet-etcd gRPC client
/// as an app would use it.
/// </summary>
[Collection(TestEtcd.Collection)]
public sealed class EtcdDriverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ProvisionAsync_CalledTwice_IsIdempotent()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        var prefix = EtcdNames.KeyPrefix(instance.InstanceId);

        var first = await scope.Driver.ProvisionAsync(instance, Ct);
        var second = await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(prefix, first.Outputs["prefix"]);
        Assert.EndsWith("/", first.Outputs["prefix"], StringComparison.Ordinal);
        Assert.Equal(first.Outputs, second.Outputs);
        var perm = Assert.Single(await PermissionsAsync(EtcdNames.Role(instance.InstanceId)));
        Assert.Equal(Authpb.Permission.Types.Type.Readwrite, perm.PermType);
        Assert.Equal(prefix, perm.Key.ToStringUtf8());
        Assert.Equal(prefix[..^1] + "0", perm.RangeEnd.ToStringUtf8());
        var progress = ((RecordingProgress)instance.Progress).Lines;
        Assert.Contains(progress, l => l.StartsWith("Creating role", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProvisionAsync_AfterCrashWithBareRole_CompletesProvisioning()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        using var admin = TestEtcd.AdminClient();
        await admin.RoleAddAsync(new AuthRoleAddRequest { Name = EtcdNames.Role(instance.InstanceId) }, cancellationToken: Ct);
        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);

        await scope.Driver.ProvisionAsync(instance, Ct);

        var report = await scope.Driver.CheckAsync(instance, Ct);
        Assert.True(report.Healthy, report.Message);
    }

    [Fact]
    public async Task ProvisionAsync_RoleHoldsStrayPermission_RevokesIt()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        var role = EtcdNames.Role(instance.InstanceId);
        using var admin = TestEtcd.AdminClient();
        await admin.RoleAddAsync(new AuthRoleAddRequest { Name = role }, cancellationToken: Ct);
        await admin.RoleGrantPermissionAsync(new AuthRoleGrantPermissionRequest
        {
            Name = role,
            Perm = new Authpb.Permission
            {
                PermType = Authpb.Permission.Types.Type.Read,
                Key = ByteString.CopyFromUtf8("/"),
                RangeEnd = ByteString.CopyFrom(0),
            },
        }, cancellationToken: Ct);

        await scope.Driver.ProvisionAsync(instance, Ct);

        var perm = Assert.Single(await PermissionsAsync(role));
        Assert.Equal(EtcdNames.KeyPrefix(instance.InstanceId), perm.Key.ToStringUtf8());
    }

    [Fact]
    public async Task UpdateAsync_AnyPlan_KeepsTheGrantAndHasNoLimits()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);

        await scope.Driver.UpdateAsync(instance with { Limits = new Dictionary<string, int> { ["connections"] = 3 } }, Ct);

        Assert.Empty(((IServiceDriver)scope.Driver).PlanLimits);
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public async Task BindAsync_Credentials_PutGetAndRangeReadInsidePrefix()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = EtcdScope.NewBinding(instance);

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        var v = credentials.Values;
        string[] keys = ["endpoints", "host", "port", "username", "password", "prefix"];
        Assert.Equal(TestEtcd.Endpoint.Tls ? [.. keys, "ca.crt", "tls.crt", "tls.key"] : keys, v.Keys);
        Assert.Equal(TestEtcd.Url, v["endpoints"]);
        Assert.Equal(EtcdNames.BindingUser(instance.InstanceId, binding.BindingId), v["username"]);
        Assert.Equal(EtcdNames.KeyPrefix(instance.InstanceId), v["prefix"]);
        Assert.Equal(32, v["password"].Length);
        Assert.DoesNotContain(v["password"], credentials.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(((RecordingProgress)instance.Progress).Lines, l => l.Contains(v["password"], StringComparison.Ordinal));

        using var app = TestEtcd.AppClient(credentials);
        await app.PutAsync(v["prefix"] + "config/a", "1", cancellationToken: Ct);
        await app.PutAsync(v["prefix"] + "config/b", "2", cancellationToken: Ct);
        Assert.Equal("2", await app.GetValAsync(v["prefix"] + "config/b", cancellationToken: Ct));
        var all = await app.GetRangeValAsync(v["prefix"], cancellationToken: Ct);
        Assert.Equal(2, all.Count);
        await app.DeleteAsync(v["prefix"] + "config/a", cancellationToken: Ct);
        Assert.Equal(1L, (await app.GetRangeAsync(v["prefix"], cancellationToken: Ct)).Count);
    }

    [Fact]
    public async Task BindAsync_KeysOfOtherInstance_PermissionDenied()
    {
        await using var scope = new EtcdScope();
        var mine = scope.NewInstance();
        var other = scope.NewInstance();
        await scope.Driver.ProvisionAsync(mine, Ct);
        await scope.Driver.ProvisionAsync(other, Ct);
        var otherPrefix = EtcdNames.KeyPrefix(other.InstanceId);
        using (var admin = TestEtcd.AdminClient())
        {
            await admin.PutAsync(otherPrefix + "secret", "s3cret", cancellationToken: Ct);
        }

        using var app = TestEtcd.AppClient(await scope.Driver.BindAsync(EtcdScope.NewBinding(mine), Ct));

        await AssertDeniedAsync(() => app.GetAsync(otherPrefix + "secret", cancellationToken: Ct));
        await AssertDeniedAsync(() => app.PutAsync(otherPrefix + "x", "1", cancellationToken: Ct));
        await AssertDeniedAsync(() => app.DeleteAsync(otherPrefix + "secret", cancellationToken: Ct));
        await AssertDeniedAsync(() => app.GetRangeAsync(otherPrefix, cancellationToken: Ct));
    }

    [Fact]
    public async Task BindAsync_KeysOutsidePrefix_PermissionDenied()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);
        var prefix = credentials.Values["prefix"];
        using var app = TestEtcd.AppClient(credentials);

        await AssertDeniedAsync(() => app.PutAsync("/root-key", "1", cancellationToken: Ct));
        await AssertDeniedAsync(() => app.GetAsync("/root-key", cancellationToken: Ct));
        // The prefix without its slash, and a sibling that shares it: the trailing slash keeps both out.
        await AssertDeniedAsync(() => app.PutAsync(prefix[..^1], "1", cancellationToken: Ct));
        await AssertDeniedAsync(() => app.PutAsync(prefix[..^1] + "0/x", "1", cancellationToken: Ct));
        // A range read must lie entirely inside the grant.
        await AssertDeniedAsync(() => app.GetRangeAsync(EtcdNames.KeyRoot, cancellationToken: Ct));
        await AssertDeniedAsync(() => app.GetRangeAsync(prefix[..^1], cancellationToken: Ct));
        await AssertDeniedAsync(() => app.DeleteRangeAsync("/", cancellationToken: Ct));
    }

    [Fact]
    public async Task BindAsync_ServerWideAdministration_PermissionDenied()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        using var app = TestEtcd.AppClient(await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct));

        await AssertDeniedAsync(() => app.UserListAsync(new AuthUserListRequest(), cancellationToken: Ct));
        await AssertDeniedAsync(() => app.RoleListAsync(new AuthRoleListRequest(), cancellationToken: Ct));
        await AssertDeniedAsync(() => app.UserAddAsync(new AuthUserAddRequest { Name = "intruder", Password = "x" }, cancellationToken: Ct));
        await AssertDeniedAsync(() => app.RoleGrantPermissionAsync(new AuthRoleGrantPermissionRequest
        {
            Name = EtcdNames.Role(instance.InstanceId),
            Perm = new Authpb.Permission { PermType = Authpb.Permission.Types.Type.Readwrite, Key = ByteString.CopyFromUtf8("/") },
        }, cancellationToken: Ct));
        await AssertDeniedAsync(() => app.AuthDisableAsync(new AuthDisableRequest(), cancellationToken: Ct));
    }

    [Fact]
    public async Task BindAsync_SecondBindingOfSameInstance_SharesTheKeys()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var first = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);
        var second = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);
        using var one = TestEtcd.AppClient(first);
        using var two = TestEtcd.AppClient(second);

        await one.PutAsync(first.Values["prefix"] + "shared", "from first", cancellationToken: Ct);

        Assert.Equal("from first", await two.GetValAsync(second.Values["prefix"] + "shared", cancellationToken: Ct));
        Assert.NotEqual(first.Values["username"], second.Values["username"]);
    }

    [Fact]
    public async Task BindAsync_CalledTwice_RotatesPasswordAndRefusesOldToken()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = EtcdScope.NewBinding(instance);
        var old = await scope.Driver.BindAsync(binding, Ct);
        using var anonymous = TestEtcd.AnonymousClient();
        var oldToken = await TokenAsync(anonymous, old);

        var fresh = await scope.Driver.BindAsync(binding, Ct);

        Assert.NotEqual(old.Values["password"], fresh.Values["password"]);
        var signIn = await Assert.ThrowsAsync<RpcException>(() => TokenAsync(anonymous, old));
        Assert.Contains("authentication failed", signIn.Status.Detail, StringComparison.Ordinal);
        var stale = await Assert.ThrowsAsync<RpcException>(
            () => anonymous.GetAsync(old.Values["prefix"] + "k", Token(oldToken), cancellationToken: Ct));
        Assert.Equal(StatusCode.Unauthenticated, stale.StatusCode);
        using var app = TestEtcd.AppClient(fresh);
        await app.PutAsync(fresh.Values["prefix"] + "k", "v", cancellationToken: Ct);
    }

    [Fact]
    public async Task BindAsync_AfterCrashWithUserWithoutRole_GrantsTheRole()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = EtcdScope.NewBinding(instance);
        using (var admin = TestEtcd.AdminClient())
        {
            await admin.UserAddAsync(new AuthUserAddRequest
            {
                Name = EtcdNames.BindingUser(instance.InstanceId, binding.BindingId),
                Password = SecretGenerator.Password(),
            }, cancellationToken: Ct);
        }

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        using var app = TestEtcd.AppClient(credentials);
        await app.PutAsync(credentials.Values["prefix"] + "k", "v", cancellationToken: Ct);
    }

    [Fact]
    public async Task BindAsync_InstanceNotProvisioned_ThrowsInvalidOperationAndCreatesNoUser()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();

        await Assert.ThrowsAsync<InvalidOperationException>(
            () => scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct));

        Assert.Empty(await UsersOfAsync(instance));
    }

    [Fact]
    public async Task UnbindAsync_AfterBind_SignInFailsAndOpenClientAndOldTokenRefused()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = EtcdScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        var key = credentials.Values["prefix"] + "k";
        using var open = TestEtcd.AppClient(credentials);
        await open.PutAsync(key, "v", cancellationToken: Ct);
        using var anonymous = TestEtcd.AnonymousClient();
        var token = await TokenAsync(anonymous, credentials);

        await scope.Driver.UnbindAsync(binding, Ct);

        // The open client's cached token dies with the user; so does a token held elsewhere.
        var reused = await Assert.ThrowsAsync<RpcException>(() => open.GetAsync(key, cancellationToken: Ct));
        Assert.Equal(StatusCode.Unauthenticated, reused.StatusCode);
        var stale = await Assert.ThrowsAsync<RpcException>(() => anonymous.GetAsync(key, Token(token), cancellationToken: Ct));
        Assert.Equal(StatusCode.Unauthenticated, stale.StatusCode);
        Assert.Contains("invalid auth token", stale.Status.Detail, StringComparison.Ordinal);
        var signIn = await Assert.ThrowsAsync<RpcException>(() => TokenAsync(anonymous, credentials));
        Assert.Contains("authentication failed", signIn.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(await UsersOfAsync(instance));
        // The data outlives the binding: it belongs to the instance.
        using var admin = TestEtcd.AdminClient();
        Assert.Equal("v", await admin.GetValAsync(key, cancellationToken: Ct));
    }

    [Fact]
    public async Task UnbindAsync_AfterUnbind_WatchCannotBeOpenedWithOldToken()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = EtcdScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        using var anonymous = TestEtcd.AnonymousClient();
        var token = await TokenAsync(anonymous, credentials);

        await scope.Driver.UnbindAsync(binding, Ct);

        // etcd checks a watch's permission when it is created (an already open watch stream is not cut off).
        using var watch = anonymous.GetConnection().WatchClient.Watch(Token(token), cancellationToken: Ct);
        await watch.RequestStream.WriteAsync(new WatchRequest
        {
            CreateRequest = new WatchCreateRequest
            {
                Key = ByteString.CopyFromUtf8(credentials.Values["prefix"]),
                RangeEnd = ByteString.CopyFrom(EtcdNames.PrefixRangeEnd(credentials.Values["prefix"])),
            },
        }, Ct);
        var refused = false;
        try
        {
            refused = !await watch.ResponseStream.MoveNext(Ct) || watch.ResponseStream.Current.Canceled;
        }
        catch (RpcException)
        {
            refused = true;
        }

        Assert.True(refused);
    }

    [Fact]
    public async Task UnbindAsync_CalledTwiceAndAfterDeprovision_Succeeds()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var binding = EtcdScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);

        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.Empty(await UsersOfAsync(instance));
    }

    [Fact]
    public async Task DeprovisionAsync_WithBindingsKeysAndLease_LeavesNothingAndSparesOthers()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        var neighbour = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        await scope.Driver.ProvisionAsync(neighbour, Ct);
        var credentials = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);
        await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);
        var neighbourCredentials = await scope.Driver.BindAsync(EtcdScope.NewBinding(neighbour), Ct);
        var prefix = credentials.Values["prefix"];
        using var app = TestEtcd.AppClient(credentials);
        for (var i = 0; i < 20; i++)
        {
            await app.PutAsync($"{prefix}k{i}", "v", cancellationToken: Ct);
        }

        var lease = await app.LeaseGrantAsync(new LeaseGrantRequest { TTL = 3600 }, cancellationToken: Ct);
        await app.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(prefix + "leased"), Value = ByteString.CopyFromUtf8("v"), Lease = lease.ID }, cancellationToken: Ct);
        using var neighbourApp = TestEtcd.AppClient(neighbourCredentials);
        await neighbourApp.PutAsync(neighbourCredentials.Values["prefix"] + "kept", "v", cancellationToken: Ct);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        using var admin = TestEtcd.AdminClient();
        Assert.Equal(0L, (await admin.GetRangeAsync(prefix, cancellationToken: Ct)).Count);
        Assert.Empty(await UsersOfAsync(instance));
        var roles = await admin.RoleListAsync(new AuthRoleListRequest(), cancellationToken: Ct);
        Assert.DoesNotContain(EtcdNames.Role(instance.InstanceId), roles.Roles);
        var ttl = await admin.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = lease.ID }, cancellationToken: Ct);
        Assert.Equal(-1L, ttl.TTL);
        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
        // The neighbour keeps its keys, role and binding.
        Assert.Equal("v", await neighbourApp.GetValAsync(neighbourCredentials.Values["prefix"] + "kept", cancellationToken: Ct));
        Assert.True((await scope.Driver.CheckAsync(neighbour, Ct)).Healthy);
    }

    [Fact]
    public async Task DeprovisionAsync_LeasedKeysOnLaterPages_RevokesTheirLeases()
    {
        await using var scope = new EtcdScope();
        var driver = TestEtcd.NewDriver(keyPageSize: 2);
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var prefix = EtcdNames.KeyPrefix(instance.InstanceId);
        using var admin = TestEtcd.AdminClient();
        var leases = new List<long>();
        for (var i = 0; i < 7; i++)
        {
            var lease = i % 3 == 2 ? (await admin.LeaseGrantAsync(new LeaseGrantRequest { TTL = 600 }, cancellationToken: Ct)).ID : 0;
            await admin.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"{prefix}k{i}"), Value = ByteString.CopyFromUtf8("v"), Lease = lease }, cancellationToken: Ct);
            if (lease != 0)
            {
                leases.Add(lease);
            }
        }

        await driver.DeprovisionAsync(instance, Ct);

        foreach (var lease in leases)
        {
            var ttl = await admin.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = lease }, cancellationToken: Ct);
            Assert.Equal(-1L, ttl.TTL);
        }
    }

    [Fact]
    public async Task DeprovisionAsync_LeaseAlsoHoldsKeysOutsidePrefix_LeavesTheLease()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var prefix = EtcdNames.KeyPrefix(instance.InstanceId);
        var outside = $"/portal-test-outside/{Guid.NewGuid():N}";
        using var admin = TestEtcd.AdminClient();
        var lease = await admin.LeaseGrantAsync(new LeaseGrantRequest { TTL = 600 }, cancellationToken: Ct);
        try
        {
            foreach (var key in new[] { prefix + "leased", outside })
            {
                await admin.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8("v"), Lease = lease.ID }, cancellationToken: Ct);
            }

            await scope.Driver.DeprovisionAsync(instance, Ct);

            Assert.Equal("v", await admin.GetValAsync(outside, cancellationToken: Ct));
            Assert.Equal(0L, (await admin.GetRangeAsync(prefix, cancellationToken: Ct)).Count);
        }
        finally
        {
            await admin.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease.ID }, cancellationToken: Ct);
        }
    }

    [Fact]
    public async Task DeprovisionAsync_AfterCrashWithRoleAlreadyDeleted_RemovesUsersAndKeys()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);
        using (var app = TestEtcd.AppClient(credentials))
        {
            await app.PutAsync(credentials.Values["prefix"] + "k", "v", cancellationToken: Ct);
        }

        using var admin = TestEtcd.AdminClient();
        await admin.RoleDeleteAsync(new AuthRoleDeleteRequest { Role = EtcdNames.Role(instance.InstanceId) }, cancellationToken: Ct);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Empty(await UsersOfAsync(instance));
        Assert.Equal(0L, (await admin.GetRangeAsync(credentials.Values["prefix"], cancellationToken: Ct)).Count);
    }

    [Fact]
    public async Task DeprovisionAsync_CalledTwiceAndNeverProvisioned_Succeeds()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        var never = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);
        await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);

        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.DeprovisionAsync(never, Ct);

        Assert.Empty(await UsersOfAsync(instance));
        Assert.False((await scope.Driver.CheckAsync(never, Ct)).Healthy);
    }

    [Fact]
    public async Task CheckAsync_Provisioned_ReportsHealthy()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();
        await scope.Driver.ProvisionAsync(instance, Ct);

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.Contains(EtcdNames.KeyPrefix(instance.InstanceId), report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_NotProvisioned_ReportsRoleDoesNotExist()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance();

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.Equal($"role {EtcdNames.Role(instance.InstanceId)} does not exist", report.Message);
    }

    [Fact]
    public async Task CheckAsync_BackendDown_ReportsUnhealthy()
    {
        await using var scope = new EtcdScope();
        var instance = scope.NewInstance(backend: TestEtcd.Endpoint with { Port = 1 });

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("not usable", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AllOperations_FirstEndpointDown_UseTheFurtherEndpoint()
    {
        await using var scope = new EtcdScope();
        var backend = TestEtcd.Endpoint with
        {
            Port = 1,
            Settings = new Dictionary<string, string>(TestEtcd.Endpoint.Settings) { [EtcdDriver.EndpointsSetting] = TestEtcd.Url },
        };
        var instance = scope.NewInstance(backend: backend);

        await scope.Driver.ProvisionAsync(instance, Ct);
        var credentials = await scope.Driver.BindAsync(EtcdScope.NewBinding(instance), Ct);
        var report = await scope.Driver.TestBackendAsync(backend, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.Contains(TestEtcd.Url, report.Message, StringComparison.Ordinal);
        Assert.Equal($"{new Uri(TestEtcd.Url).Scheme}://{backend.Host}:1,{TestEtcd.Url}", credentials.Values["endpoints"]);
        // dotnet-etcd balances over every endpoint it is given, so the app reaches the live one too.
        using var app = TestEtcd.AppClient(credentials);
        await app.PutAsync(credentials.Values["prefix"] + "k", "v", cancellationToken: Ct);
    }

    [Fact]
    public async Task TestBackendAsync_RootCredentials_ReportsHealthyWithVersion()
    {
        var report = await TestEtcd.NewDriver().TestBackendAsync(TestEtcd.Endpoint, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.StartsWith("etcd 3.", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_WrongPassword_ReportsUnhealthy()
    {
        var backend = TestEtcd.Endpoint with { AdminPassword = "wrong-" + Guid.NewGuid().ToString("N") };

        var report = await TestEtcd.NewDriver().TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("authentication failed", report.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(backend.AdminPassword, report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_UserWithoutRootRole_ReportsUnhealthy()
    {
        var name = "portal-test-plain-" + Guid.NewGuid().ToString("N")[..12];
        var password = SecretGenerator.Password();
        using var admin = TestEtcd.AdminClient();
        await admin.UserAddAsync(new AuthUserAddRequest { Name = name, Password = password }, cancellationToken: Ct);
        try
        {
            var report = await TestEtcd.NewDriver().TestBackendAsync(
                TestEtcd.Endpoint with { AdminUser = name, AdminPassword = password }, Ct);

            Assert.False(report.Healthy);
        }
        finally
        {
            await admin.UserDeleteAsync(new AuthUserDeleteRequest { Name = name }, cancellationToken: Ct);
        }
    }

    [Fact]
    public async Task TestBackendAsync_AuthenticationDisabled_ReportsUnhealthy()
    {
        await using var open = await UnauthenticatedEtcd.StartAsync(Ct);

        var report = await TestEtcd.NewDriver().TestBackendAsync(
            new BackendEndpoint("127.0.0.1", open.Port, "root", "anything"), Ct);

        Assert.False(report.Healthy);
        Assert.Contains("Authentication is disabled", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_NothingListening_ReportsUnhealthy()
    {
        var report = await TestEtcd.NewDriver().TestBackendAsync(TestEtcd.Endpoint with { Port = 1 }, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("No etcd endpoint answered", report.Message, StringComparison.Ordinal);
    }

    private static async Task AssertDeniedAsync(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
    }

    private static async Task<string> TokenAsync(EtcdClient client, BindingCredentials credentials) =>
        (await client.AuthenticateAsync(new AuthenticateRequest
        {
            Name = credentials.Values["username"],
            Password = credentials.Values["password"],
        }, cancellationToken: Ct)).Token;

    private static Metadata Token(string token) => new() { { "token", token } };

    private static async Task<IReadOnlyList<Authpb.Permission>> PermissionsAsync(string role)
    {
        using var admin = TestEtcd.AdminClient();
        return (await admin.RoleGetAsync(new AuthRoleGetRequest { Role = role }, cancellationToken: Ct)).Perm;
    }

    private static async Task<IReadOnlyList<string>> UsersOfAsync(InstanceContext instance)
    {
        using var admin = TestEtcd.AdminClient();
        var users = await admin.UserListAsync(new AuthUserListRequest(), cancellationToken: Ct);
        return users.Users.Where(u => u.Contains(instance.InstanceId.ToString("N"), StringComparison.Ordinal)).ToList();
    }
}
