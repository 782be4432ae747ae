using System.Globalization;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.Certificates;
using Portal.Provisioning.Redis;
using StackExchange.Redis;
using StackExchange.Redis.KeyspaceIsolation;

namespace Portal.Provisioning.Tests.Redis;

/// <summary>
/// Integration tests against the real Redis server of <see cref="TestRedis"/>, using StackExchange.Redis as
/// an app would. One test restarts the server, so they run one after another and alone
/// (<see cref="RedisServerCollection"/>).
/// </summary>
[Collection(RedisServerCollection.Name)]
public sealed class RedisDriverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ProvisionAsync_CalledTwice_IsIdempotentAndRecordsDisabledInstanceUser()
    {
        await using var scope = new RedisScope();
        var instance = scope.NewInstance();
        var prefix = RedisNames.Prefix(instance.InstanceId);

        var first = await scope.Driver.ProvisionAsync(instance, Ct);
        var second = await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.Equal(prefix, first.Outputs["prefix"]);
        Assert.Equal(first.Outputs, second.Outputs);
        Assert.Equal(
            $"off sanitize-payload ~{prefix}* resetchannels &{prefix}* -@all",
            await TestRedis.AclLineAsync(RedisNames.InstanceUser(instance.InstanceId)));
        Assert.Single(await TestRedis.AclListAsync(), l => l.Contains(prefix, StringComparison.Ordinal));
        var progress = ((RecordingProgress)instance.Progress).Lines;
        Assert.Contains(progress, l => l.StartsWith("Recording key prefix", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProvisionAsync_AfterInstanceUserMadeByHandWithPassword_ResetsItToDisabled()
    {
        await using var scope = new RedisScope();
        var instance = scope.NewInstance();
        var marker = RedisNames.InstanceUser(instance.InstanceId);
        var password = SecretGenerator.Password();
        await TestRedis.AdminAsync("ACL", "SETUSER", marker, "on", $">{password}", "~*", "+@all");

        await scope.Driver.ProvisionAsync(instance, Ct);

        Assert.StartsWith("off ", await TestRedis.AclLineAsync(marker), StringComparison.Ordinal);
        var e = await Assert.ThrowsAsync<RedisConnectionException>(() => TestRedis.ConnectAsync(
            instance.Backend.Host, instance.Backend.Port, marker, password));
        Assert.Equal(ConnectionFailureType.AuthenticationFailure, e.FailureType);
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
    }

    [Fact]
    public void PlanLimitsAndBackendSettings_Redis_AreEmpty()
    {
        IServiceDriver driver = new RedisDriver(NullLogger<RedisDriver>.Instance);

        Assert.Equal("redis", driver.Kind);
        Assert.Empty(driver.PlanLimits);
        Assert.Empty(driver.BackendSettings);
        Assert.Empty(driver.InstanceParameters);
    }

    [Fact]
    public async Task UpdateAsync_BindingWithOlderRules_GetsCurrentRulesAndKeepsPassword()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var binding = RedisScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        var user = RedisNames.BindingUser(binding.BindingId);
        var current = await TestRedis.AclLineAsync(user);
        // The rule string of the facts file, without the later -client|tracking and -memory.
        var pattern = RedisNames.Pattern(instance.InstanceId);
        await TestRedis.AdminAsync("ACL", "SETUSER", user, "resetkeys", "resetchannels", "-@all", $"~{pattern}",
            $"&{pattern}", "+@all", "-@dangerous", "-function", "-script|flush", "-scan", "-randomkey", "-dbsize",
            "-select", "-move", "-copy", "-pubsub");
        Assert.NotEqual(current, await TestRedis.AclLineAsync(user));

        await scope.Driver.UpdateAsync(instance, Ct);

        Assert.Equal(current, await TestRedis.AclLineAsync(user));
        await using var app = await TestRedis.ConnectAsync(credentials);
        Assert.True(await app.GetDatabase().StringSetAsync(credentials.Values["prefix"] + "k", "v"));
    }

    [Fact]
    public async Task UpdateAsync_NotProvisioned_ThrowsInvalidOperation()
    {
        await using var scope = new RedisScope();
        var instance = scope.NewInstance();

        await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.UpdateAsync(instance, Ct));
    }

    [Fact]
    public async Task BindAsync_Credentials_ReadAndWriteInsidePrefix()
    {
        TestRedis.RequireTls();
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var binding = RedisScope.NewBinding(instance);

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        var v = credentials.Values;
        Assert.Equal(["host", "port", "username", "password", "prefix", "uri", "ca.crt"], v.Keys);
        Assert.Equal(RedisNames.BindingUser(binding.BindingId), v["username"]);
        Assert.Equal(RedisNames.Prefix(instance.InstanceId), v["prefix"]);
        Assert.Equal(32, v["password"].Length);
        Assert.Equal($"rediss://{v["username"]}:{v["password"]}@{v["host"]}:{v["port"]}", v["uri"]);
        Assert.Equal(TestBackends.Ca.CertificatePem, v["ca.crt"]);
        Assert.DoesNotContain(v["password"], credentials.ToString(), StringComparison.Ordinal);
        // Only the hash reaches the server.
        Assert.DoesNotContain(v["password"], string.Join("\n", await TestRedis.AclListAsync()), StringComparison.Ordinal);

        await using var app = await TestRedis.ConnectAsync(credentials);
        var db = app.GetDatabase().WithKeyPrefix(v["prefix"]);
        Assert.True(await db.StringSetAsync("greeting", "hello"));
        Assert.Equal("hello", (string?)await db.StringGetAsync("greeting"));
        await db.HashSetAsync("user:1", [new HashEntry("name", "Ada"), new HashEntry("role", "admin")]);
        Assert.Equal("Ada", (string?)await db.HashGetAsync("user:1", "name"));
        Assert.Equal(3, await db.ListRightPushAsync("queue", ["a", "b", "c"]));
        Assert.Equal(1, (int)await db.ScriptEvaluateAsync("return redis.call('EXISTS', KEYS[1])", ["greeting"]));
        var tx = db.CreateTransaction();
        _ = tx.StringIncrementAsync("counter");
        _ = tx.KeyExpireAsync("counter", TimeSpan.FromMinutes(5));
        Assert.True(await tx.ExecuteAsync());
        Assert.Equal("1", (string?)await app.GetDatabase().StringGetAsync(v["prefix"] + "counter"));
        Assert.True(await db.KeyRenameAsync("greeting", "greeting2"));
    }

    [Fact]
    public async Task BindAsync_KeysOutsidePrefix_RefusedWithNoperm()
    {
        await using var scope = new RedisScope();
        var mine = await scope.ProvisionedAsync();
        var other = await scope.ProvisionedAsync();
        var otherKey = RedisNames.Prefix(other.InstanceId) + "secret";
        await TestRedis.AdminAsync("SET", otherKey, "theirs");
        var credentials = await scope.Driver.BindAsync(RedisScope.NewBinding(mine), Ct);
        var prefix = credentials.Values["prefix"];
        await using var app = await TestRedis.ConnectAsync(credentials);
        var db = app.GetDatabase();
        await db.StringSetAsync(prefix + "mine", "1");

        await AssertNopermAsync(() => db.StringGetAsync(otherKey));
        await AssertNopermAsync(() => db.StringSetAsync(otherKey, "overwritten"));
        await AssertNopermAsync(() => db.KeyDeleteAsync(otherKey));
        await AssertNopermAsync(() => db.StringGetAsync("plain"));
        await AssertNopermAsync(() => db.StringSetAsync("plain", "x"));
        await AssertNopermAsync(() => db.KeyRenameAsync(prefix + "mine", RedisNames.Prefix(other.InstanceId) + "stolen"));
        // Not even a key named like the prefix without its colon.
        await AssertNopermAsync(() => db.StringSetAsync(prefix.TrimEnd(':') + "x", "x"));
        // Scripts run as the user: each key a script touches is checked, declared or not.
        await AssertScriptRefusedAsync(() => db.ScriptEvaluateAsync("return redis.call('GET', KEYS[1])", [otherKey]));
        await AssertScriptRefusedAsync(() => db.ScriptEvaluateAsync($"return redis.call('GET', '{otherKey}')"));
        await AssertScriptRefusedAsync(() => db.ScriptEvaluateAsync("return redis.call('KEYS', '*')"));

        Assert.Equal("theirs", (string?)await TestRedis.AdminAsync("GET", otherKey));
    }

    [Theory]
    [InlineData("FLUSHALL")]
    [InlineData("FLUSHDB")]
    [InlineData("KEYS", "*")]
    [InlineData("SCAN", "0")]
    [InlineData("RANDOMKEY")]
    [InlineData("DBSIZE")]
    [InlineData("INFO", "keyspace")]
    [InlineData("MEMORY", "STATS")]
    [InlineData("CONFIG", "GET", "*")]
    [InlineData("CONFIG", "SET", "save", "60 1")]
    [InlineData("SELECT", "1")]
    [InlineData("SWAPDB", "0", "1")]
    [InlineData("FUNCTION", "FLUSH")]
    [InlineData("FUNCTION", "LIST")]
    [InlineData("SCRIPT", "FLUSH")]
    [InlineData("PUBSUB", "CHANNELS")]
    [InlineData("CLIENT", "LIST")]
    [InlineData("CLIENT", "KILL", "USER", "admin")]
    [InlineData("CLIENT", "TRACKING", "on", "BCAST")]
    [InlineData("ACL", "LIST")]
    [InlineData("ACL", "SETUSER", "intruder", "on", ">pw", "~*", "+@all")]
    [InlineData("SLOWLOG", "GET")]
    [InlineData("SAVE")]
    [InlineData("BGSAVE")]
    [InlineData("REPLICAOF", "127.0.0.1", "1")]
    [InlineData("SHUTDOWN", "NOSAVE")]
    public async Task BindAsync_ServerWideCommand_RefusedWithNoperm(string command, params string[] args)
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);
        await using var app = await TestRedis.ConnectAsync(credentials);

        await AssertNopermAsync(() => app.GetServers().Single().ExecuteAsync(command, args));
    }

    [Fact]
    public async Task BindAsync_CommandsOnOwnKeysThatReachOtherDatabases_RefusedWithNoperm()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);
        var prefix = credentials.Values["prefix"];
        await using var app = await TestRedis.ConnectAsync(credentials);
        var db = app.GetDatabase();
        await db.StringSetAsync(prefix + "k", "v");

        await AssertNopermAsync(() => db.ExecuteAsync("MOVE", prefix + "k", "1"));
        await AssertNopermAsync(() => db.ExecuteAsync("COPY", prefix + "k", prefix + "k2", "DB", "1"));
        await AssertNopermAsync(() => db.ExecuteAsync("SORT", prefix + "list", "BY", "nosort", "GET", "*"));
        // MEMORY USAGE checks its key, so it stays allowed inside the prefix.
        Assert.True((long)await db.ExecuteAsync("MEMORY", "USAGE", prefix + "k") > 0);
    }

    [Fact]
    public async Task BindAsync_PubSub_OwnChannelsDeliveredOtherInstancesRefused()
    {
        await using var scope = new RedisScope();
        var mine = await scope.ProvisionedAsync();
        var other = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(RedisScope.NewBinding(mine), Ct);
        var prefix = credentials.Values["prefix"];
        var otherChannel = RedisChannel.Literal(RedisNames.Prefix(other.InstanceId) + "news");
        await using var app = await TestRedis.ConnectAsync(credentials);
        var subscriber = app.GetSubscriber();
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await subscriber.SubscribeAsync(RedisChannel.Literal(prefix + "news"), (_, m) => received.TrySetResult(m!));

        Assert.Equal(1, await subscriber.PublishAsync(RedisChannel.Literal(prefix + "news"), "hello"));
        Assert.Equal("hello", await received.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct));

        await AssertNopermAsync(() => subscriber.PublishAsync(otherChannel, "spoof"));
        await AssertNopermAsync(() => subscriber.SubscribeAsync(otherChannel, (_, _) => { }));
        await AssertNopermAsync(() => subscriber.SubscribeAsync(RedisChannel.Pattern("*"), (_, _) => { }));
        await AssertNopermAsync(() => subscriber.PublishAsync(RedisChannel.Literal("global"), "x"));
    }

    [Fact]
    public async Task BindAsync_SecondBindingOfSameInstance_SeesFirstBindingsKeys()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var first = await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);
        var second = await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);
        await using (var app = await TestRedis.ConnectAsync(first))
        {
            await app.GetDatabase().StringSetAsync(first.Values["prefix"] + "shared", "from first");
        }

        await using var other = await TestRedis.ConnectAsync(second);

        Assert.Equal("from first", (string?)await other.GetDatabase().StringGetAsync(second.Values["prefix"] + "shared"));
        Assert.NotEqual(first.Values["username"], second.Values["username"]);
    }

    [Fact]
    public async Task BindAsync_CalledTwice_RotatesPassword()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var binding = RedisScope.NewBinding(instance);

        var old = await scope.Driver.BindAsync(binding, Ct);
        var fresh = await scope.Driver.BindAsync(binding, Ct);

        Assert.NotEqual(old.Values["password"], fresh.Values["password"]);
        await AssertLoginFailsAsync(old);
        await using var app = await TestRedis.ConnectAsync(fresh);
        Assert.True(await app.GetDatabase().StringSetAsync(fresh.Values["prefix"] + "k", "v"));
    }

    [Fact]
    public async Task BindAsync_TlsBackend_ClientTrustingCredentialsCaConnectsOthersFail()
    {
        TestRedis.RequireTls();
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);
        var v = credentials.Values;
        using var foreign = CertificateAuthority.CreateRoot("Foreign CA", TimeSpan.FromDays(1));

        // The credentials alone (rediss:// and ca.crt) reach the server with its certificate verified.
        await using (var app = await TestRedis.ConnectAsync(credentials))
        {
            Assert.True(await app.GetDatabase().StringSetAsync(v["prefix"] + "tls", "yes"));
            Assert.Contains(v["username"], await TestRedis.ConnectedUsersAsync());
        }

        // A client that trusts another CA refuses the server's certificate.
        var e = await Assert.ThrowsAsync<RedisConnectionException>(() => TestRedis.ConnectAsync(credentials, foreign.CertificatePem));
        // The TLS handshake failed (StackExchange.Redis files it under AuthenticationFailure too), not the password.
        Assert.IsType<AuthenticationException>(e.InnerException);
        Assert.Contains("remote certificate", e.InnerException.Message, StringComparison.OrdinalIgnoreCase);
        // The port speaks TLS only: a plain-TCP client gets no answer, not even a login prompt.
        var plain = await Assert.ThrowsAsync<RedisConnectionException>(() => TestRedis.ConnectAsync(
            v["host"], int.Parse(v["port"], CultureInfo.InvariantCulture), v["username"], v["password"], trustedCaPem: null));
        Assert.NotEqual(ConnectionFailureType.AuthenticationFailure, plain.FailureType);
        Assert.Equal("yes", (string?)await TestRedis.AdminAsync("GET", v["prefix"] + "tls"));
    }

    [Fact]
    public async Task BindAsync_TlsBackend_PlainTcpCommandGetsNoReply()
    {
        TestRedis.RequireTls();
        var backend = TestRedis.Endpoint;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(backend.Host, backend.Port, Ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync("PING\r\n"u8.ToArray(), Ct);

        // Redis reads the bytes as a broken TLS handshake and closes the connection without a RESP reply.
        var buffer = new byte[64];
        int read;
        try
        {
            read = await stream.ReadAsync(buffer, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        }
        catch (IOException)
        {
            read = 0;
        }

        Assert.False(read > 0 && buffer[0] is (byte)'+' or (byte)'-', "the TLS port answered a plain RESP command");
    }

    [Fact]
    public async Task BindAsync_NewGeneration_SeparateUserAndBothWorkDuringOverlap()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var gen0 = RedisScope.NewBinding(instance);
        var gen1 = gen0 with { Generation = 1 };

        var old = await scope.Driver.BindAsync(gen0, Ct);
        var fresh = await scope.Driver.BindAsync(gen1, Ct);

        Assert.Equal(RedisNames.BindingUser(gen0.BindingId), old.Values["username"]);
        Assert.Equal(RedisNames.BindingUser(gen0.BindingId) + "-g1", fresh.Values["username"]);
        Assert.Equal(await TestRedis.AclLineAsync(old.Values["username"]) is { } l0 ? Rules(l0) : null,
            await TestRedis.AclLineAsync(fresh.Values["username"]) is { } l1 ? Rules(l1) : null);
        await using var app0 = await TestRedis.ConnectAsync(old);
        await using var app1 = await TestRedis.ConnectAsync(fresh);
        await app0.GetDatabase().StringSetAsync(old.Values["prefix"] + "written-by-0", "a");
        Assert.Equal("a", (string?)await app1.GetDatabase().StringGetAsync(fresh.Values["prefix"] + "written-by-0"));
        await AssertNopermAsync(() => app1.GetDatabase().StringGetAsync("plain"));
        Assert.Equal("key prefix " + old.Values["prefix"] + " is provisioned, 2 binding user(s)",
            (await scope.Driver.CheckAsync(instance, Ct)).Message);

        // The rules without the password hash, which differs.
        static string Rules(string line) => string.Join(' ', line.Split(' ').Where(t => !t.StartsWith('#')));
    }

    [Fact]
    public async Task RetireAsync_OldGeneration_ItsConnectionDroppedAndLoginRefusedNewKeepsWorking()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var gen0 = RedisScope.NewBinding(instance);
        var gen1 = gen0 with { Generation = 1 };
        var old = await scope.Driver.BindAsync(gen0, Ct);
        var fresh = await scope.Driver.BindAsync(gen1, Ct);
        var prefix = old.Values["prefix"];
        await using var app0 = await TestRedis.ConnectAsync(old);
        await using var app1 = await TestRedis.ConnectAsync(fresh);
        await app0.GetDatabase().StringSetAsync(prefix + "k", "v");
        var dropped0 = new TaskCompletionSource<ConnectionFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        app0.ConnectionFailed += (_, e) => dropped0.TrySetResult(e);
        var dropped1 = new TaskCompletionSource<ConnectionFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        app1.ConnectionFailed += (_, e) => dropped1.TrySetResult(e);

        await scope.Driver.RetireAsync(gen1, 0, Ct);

        // Generation 0: its open connection is closed by the server and its password no longer signs in.
        var failure = await dropped0.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(ConnectionFailureType.SocketClosed, failure.FailureType);
        await AssertLoginFailsAsync(old);
        Assert.False(await TestRedis.UserExistsAsync(old.Values["username"]));
        Assert.DoesNotContain(old.Values["username"], await TestRedis.ConnectedUsersAsync());
        // Generation 1: the same open connection goes on, and new logins work.
        Assert.Equal("v", (string?)await app1.GetDatabase().StringGetAsync(prefix + "k"));
        Assert.False(dropped1.Task.IsCompleted);
        await using (var again = await TestRedis.ConnectAsync(fresh))
        {
            Assert.True(await again.GetDatabase().StringSetAsync(prefix + "k2", "v2"));
        }

        // Idempotent: retiring it again (a retried job) changes nothing.
        await scope.Driver.RetireAsync(gen1, 0, Ct);
        Assert.Equal("v2", (string?)await app1.GetDatabase().StringGetAsync(prefix + "k2"));
    }

    [Fact]
    public async Task UnbindAsync_AfterRotation_EveryGenerationDroppedAndRefused()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var gen0 = RedisScope.NewBinding(instance);
        var other = await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);
        // Generations 0 to 2, none retired: what a crash in the middle of rotations leaves.
        var generations = new List<BindingCredentials>();
        for (var g = 0; g <= 2; g++)
        {
            generations.Add(await scope.Driver.BindAsync(gen0 with { Generation = g }, Ct));
        }

        await using var app = await TestRedis.ConnectAsync(generations[2]);
        var dropped = new TaskCompletionSource<ConnectionFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        app.ConnectionFailed += (_, e) => dropped.TrySetResult(e);

        // Called with the binding as the portal knows it at generation 0: the later ones are found by name.
        await scope.Driver.UnbindAsync(gen0, Ct);

        Assert.Equal(ConnectionFailureType.SocketClosed, (await dropped.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct)).FailureType);
        foreach (var credentials in generations)
        {
            await AssertLoginFailsAsync(credentials);
            Assert.False(await TestRedis.UserExistsAsync(credentials.Values["username"]));
        }

        // Another binding of the same instance is untouched.
        await using var otherApp = await TestRedis.ConnectAsync(other);
        Assert.True(await otherApp.GetDatabase().StringSetAsync(other.Values["prefix"] + "k", "v"));
        await scope.Driver.UnbindAsync(gen0 with { Generation = 2 }, Ct);
    }

    [Fact]
    public async Task DeprovisionAsync_BindingWithSeveralGenerations_RemovesThemAll()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var binding = RedisScope.NewBinding(instance);
        var old = await scope.Driver.BindAsync(binding, Ct);
        var fresh = await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.False(await TestRedis.UserExistsAsync(old.Values["username"]));
        Assert.False(await TestRedis.UserExistsAsync(fresh.Values["username"]));
        await AssertLoginFailsAsync(fresh);
    }

    [Fact]
    public async Task BindAsync_InstanceNotProvisioned_ThrowsAndCreatesNoUser()
    {
        await using var scope = new RedisScope();
        var instance = scope.NewInstance();
        var binding = RedisScope.NewBinding(instance);

        await Assert.ThrowsAsync<InvalidOperationException>(() => scope.Driver.BindAsync(binding, Ct));

        Assert.False(await TestRedis.UserExistsAsync(RedisNames.BindingUser(binding.BindingId)));
    }

    [Fact]
    public async Task BindAsync_AfterCrashLeftWideUser_ReplacesItsPasswordAndRules()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var binding = RedisScope.NewBinding(instance);
        var user = RedisNames.BindingUser(binding.BindingId);
        var stale = SecretGenerator.Password();
        await TestRedis.AdminAsync("ACL", "SETUSER", user, "on", $">{stale}", "~*", "&*", "+@all");

        var credentials = await scope.Driver.BindAsync(binding, Ct);

        await Assert.ThrowsAsync<RedisConnectionException>(() =>
            TestRedis.ConnectAsync(instance.Backend.Host, instance.Backend.Port, user, stale));
        await using var app = await TestRedis.ConnectAsync(credentials);
        await AssertNopermAsync(() => app.GetDatabase().StringGetAsync("plain"));
        await AssertNopermAsync(() => app.GetServers().Single().ExecuteAsync("KEYS", "*"));
        Assert.True(await app.GetDatabase().StringSetAsync(credentials.Values["prefix"] + "k", "v"));
    }

    [Fact]
    public async Task UnbindAsync_OpenConnection_DroppedAndLoginFails()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var binding = RedisScope.NewBinding(instance);
        var user = RedisNames.BindingUser(binding.BindingId);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        await using var app = await TestRedis.ConnectAsync(credentials);
        var db = app.GetDatabase();
        await db.StringSetAsync(credentials.Values["prefix"] + "kept", "data");
        var dropped = new TaskCompletionSource<ConnectionFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        app.ConnectionFailed += (_, e) => dropped.TrySetResult(e);
        Assert.Contains(user, await TestRedis.ConnectedUsersAsync());

        await scope.Driver.UnbindAsync(binding, Ct);

        // The server closed the app's open connection; the client's reconnect then fails to log in.
        var failure = await dropped.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(ConnectionFailureType.SocketClosed, failure.FailureType);
        Assert.DoesNotContain(user, await TestRedis.ConnectedUsersAsync());
        await Assert.ThrowsAnyAsync<Exception>(() => db.StringGetAsync(credentials.Values["prefix"] + "kept"));
        await AssertLoginFailsAsync(credentials);
        Assert.False(await TestRedis.UserExistsAsync(user));
        // The data belongs to the instance and outlives the binding.
        Assert.Equal("data", (string?)await TestRedis.AdminAsync("GET", credentials.Values["prefix"] + "kept"));
    }

    [Fact]
    public async Task UnbindAsync_CalledTwiceAndAfterDeprovision_Succeeds()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var binding = RedisScope.NewBinding(instance);
        await scope.Driver.BindAsync(binding, Ct);

        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.UnbindAsync(binding, Ct);

        Assert.False(await TestRedis.UserExistsAsync(RedisNames.BindingUser(binding.BindingId)));
    }

    [Fact]
    public async Task DeprovisionAsync_ManyKeysAndBindings_RemovesAllOfInstanceAndNothingElse()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var neighbour = await scope.ProvisionedAsync();
        var first = RedisScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(first, Ct);
        var second = RedisScope.NewBinding(instance);
        await scope.Driver.BindAsync(second, Ct);
        var neighbourBinding = RedisScope.NewBinding(neighbour);
        var neighbourCredentials = await scope.Driver.BindAsync(neighbourBinding, Ct);
        await using var app = await TestRedis.ConnectAsync(credentials);
        var db = app.GetDatabase().WithKeyPrefix(credentials.Values["prefix"]);
        var writes = new List<Task>();
        for (var i = 0; i < 5000; i++)
        {
            writes.Add((i % 3) switch
            {
                0 => db.StringSetAsync($"s:{i}", "value"),
                1 => db.HashSetAsync($"h:{i}", "field", i),
                _ => db.StreamAddAsync($"x:{i}", "field", i),
            });
        }

        await Task.WhenAll(writes);
        await using (var neighbourApp = await TestRedis.ConnectAsync(neighbourCredentials))
        {
            await neighbourApp.GetDatabase().StringSetAsync(neighbourCredentials.Values["prefix"] + "stays", "yes");
        }

        Assert.Equal(5000, await TestRedis.CountKeysAsync(RedisNames.Pattern(instance.InstanceId)));

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.Equal(0, await TestRedis.CountKeysAsync(RedisNames.Pattern(instance.InstanceId)));
        Assert.DoesNotContain(await TestRedis.AclListAsync(),
            l => l.Contains(instance.InstanceId.ToString("N"), StringComparison.Ordinal)
                || l.Contains(first.BindingId.ToString("N"), StringComparison.Ordinal)
                || l.Contains(second.BindingId.ToString("N"), StringComparison.Ordinal));
        Assert.DoesNotContain(RedisNames.BindingUser(first.BindingId), await TestRedis.ConnectedUsersAsync());
        Assert.False((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
        var progress = ((RecordingProgress)instance.Progress).Lines;
        Assert.Contains("Deleted 5000 key(s) under " + credentials.Values["prefix"], progress);
        // The neighbour is untouched.
        Assert.Equal("yes", (string?)await TestRedis.AdminAsync("GET", neighbourCredentials.Values["prefix"] + "stays"));
        Assert.True(await TestRedis.UserExistsAsync(RedisNames.BindingUser(neighbourBinding.BindingId)));
        Assert.True((await scope.Driver.CheckAsync(neighbour, Ct)).Healthy);
    }

    [Fact]
    public async Task DeprovisionAsync_CalledTwiceAndNeverProvisioned_Succeeds()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);
        var never = scope.NewInstance();

        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await scope.Driver.DeprovisionAsync(never, Ct);

        Assert.False(await TestRedis.UserExistsAsync(RedisNames.InstanceUser(instance.InstanceId)));
        Assert.False((await scope.Driver.CheckAsync(never, Ct)).Healthy);
    }

    [Fact]
    public async Task DeprovisionAsync_InstanceUserAlreadyGone_StillFindsBindingUsersByKeyPattern()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var binding = RedisScope.NewBinding(instance);
        var credentials = await scope.Driver.BindAsync(binding, Ct);
        await TestRedis.AdminAsync("SET", credentials.Values["prefix"] + "left", "over");
        await TestRedis.AdminAsync("ACL", "DELUSER", RedisNames.InstanceUser(instance.InstanceId));

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.False(await TestRedis.UserExistsAsync(RedisNames.BindingUser(binding.BindingId)));
        Assert.Equal(0, await TestRedis.CountKeysAsync(RedisNames.Pattern(instance.InstanceId)));
        await AssertLoginFailsAsync(credentials);
    }

    [Fact]
    public async Task DeprovisionAsync_AfterCrashMidway_CompletesTheRest()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var done = RedisScope.NewBinding(instance);
        await scope.Driver.BindAsync(done, Ct);
        var left = RedisScope.NewBinding(instance);
        await scope.Driver.BindAsync(left, Ct);
        var prefix = RedisNames.Prefix(instance.InstanceId);
        for (var i = 0; i < 10; i++)
        {
            await TestRedis.AdminAsync("SET", $"{prefix}{i}", "v");
        }

        // The state a crash leaves: one user and some keys deleted, the instance user still there.
        await TestRedis.AdminAsync("ACL", "DELUSER", RedisNames.BindingUser(done.BindingId));
        await TestRedis.AdminAsync("UNLINK", $"{prefix}0", $"{prefix}1", $"{prefix}2");
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);

        await scope.Driver.DeprovisionAsync(instance, Ct);

        Assert.False(await TestRedis.UserExistsAsync(RedisNames.BindingUser(left.BindingId)));
        Assert.False(await TestRedis.UserExistsAsync(RedisNames.InstanceUser(instance.InstanceId)));
        Assert.Equal(0, await TestRedis.CountKeysAsync(RedisNames.Pattern(instance.InstanceId)));
    }

    [Fact]
    public async Task ServerRestart_AclsWereSaved_BindingsKeptAndDeletedOnesStayDeleted()
    {
        await using var server = TestRedis.UsePrivateServer();
        Assert.True(TestRedis.UsesPrivateServer);
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var kept = await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);
        var unbound = RedisScope.NewBinding(instance);
        var unboundCredentials = await scope.Driver.BindAsync(unbound, Ct);
        await scope.Driver.UnbindAsync(unbound, Ct);
        var gone = await scope.ProvisionedAsync();
        var goneBinding = await scope.Driver.BindAsync(RedisScope.NewBinding(gone), Ct);
        await scope.Driver.DeprovisionAsync(gone, Ct);

        await TestRedis.RestartServerAsync();

        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);
        await using (var app = await TestRedis.ConnectAsync(kept))
        {
            var db = app.GetDatabase();
            Assert.True(await db.StringSetAsync(kept.Values["prefix"] + "after-restart", "ok"));
            await AssertNopermAsync(() => db.StringGetAsync("plain"));
            await AssertNopermAsync(() => app.GetServers().Single().ExecuteAsync("CLIENT", "TRACKING", "on", "BCAST"));
        }

        await AssertLoginFailsAsync(unboundCredentials);
        await AssertLoginFailsAsync(goneBinding);
        Assert.False((await scope.Driver.CheckAsync(gone, Ct)).Healthy);
    }

    [Fact]
    public async Task EveryDriverCall_SavesItsAclChange()
    {
        await using var server = TestRedis.UsePrivateServer();
        Assert.True(TestRedis.UsesPrivateServer);
        await using var scope = new RedisScope();
        var instance = scope.NewInstance();
        var binding = RedisScope.NewBinding(instance);
        var user = RedisNames.BindingUser(binding.BindingId);
        // ACL LOAD replaces the users in memory with the aclfile's: a change not saved would be undone.
        async Task ReloadAclFileAsync() => await TestRedis.AdminAsync("ACL", "LOAD");

        await scope.Driver.ProvisionAsync(instance, Ct);
        await ReloadAclFileAsync();
        Assert.True((await scope.Driver.CheckAsync(instance, Ct)).Healthy);

        var credentials = await scope.Driver.BindAsync(binding, Ct);
        await ReloadAclFileAsync();
        await using (var app = await TestRedis.ConnectAsync(credentials))
        {
            Assert.True(await app.GetDatabase().StringSetAsync(credentials.Values["prefix"] + "k", "v"));
        }

        await TestRedis.AdminAsync("ACL", "SETUSER", user, "+@all");
        await TestRedis.AdminAsync("ACL", "SAVE");
        await scope.Driver.UpdateAsync(instance, Ct);
        await ReloadAclFileAsync();
        Assert.Contains("-@dangerous", await TestRedis.AclLineAsync(user), StringComparison.Ordinal);

        var rotated = await scope.Driver.BindAsync(binding with { Generation = 1 }, Ct);
        await ReloadAclFileAsync();
        await scope.Driver.RetireAsync(binding with { Generation = 1 }, 0, Ct);
        await ReloadAclFileAsync();
        Assert.False(await TestRedis.UserExistsAsync(user));
        Assert.True(await TestRedis.UserExistsAsync(rotated.Values["username"]));

        await scope.Driver.UnbindAsync(binding, Ct);
        await ReloadAclFileAsync();
        Assert.False(await TestRedis.UserExistsAsync(rotated.Values["username"]));

        await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);
        await scope.Driver.DeprovisionAsync(instance, Ct);
        await ReloadAclFileAsync();
        Assert.DoesNotContain(await TestRedis.AclListAsync(),
            l => l.Contains(RedisNames.Pattern(instance.InstanceId), StringComparison.Ordinal));
    }

    [Fact]
    public async Task CheckAsync_Provisioned_ReportsHealthyWithBindingCount()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.Equal($"key prefix {RedisNames.Prefix(instance.InstanceId)} is provisioned, 1 binding user(s)", report.Message);
    }

    [Fact]
    public async Task CheckAsync_NotProvisioned_ReportsUnhealthy()
    {
        await using var scope = new RedisScope();
        var instance = scope.NewInstance();

        var report = await scope.Driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.Equal($"key prefix {RedisNames.Prefix(instance.InstanceId)} is not provisioned", report.Message);
    }

    [Fact]
    public async Task CheckAsync_NothingListening_ReportsUnhealthy()
    {
        var driver = new RedisDriver(NullLogger<RedisDriver>.Instance);
        var instance = new InstanceContext(Guid.NewGuid(), TestRedis.Endpoint with { Port = 1 },
            new Dictionary<string, int>(), new RecordingProgress());

        var report = await driver.CheckAsync(instance, Ct);

        Assert.False(report.Healthy);
        Assert.StartsWith("backend ", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_AdminCredentials_ReportsHealthyWithVersion()
    {
        var driver = new RedisDriver(NullLogger<RedisDriver>.Instance);

        var report = await driver.TestBackendAsync(TestRedis.Endpoint, Ct);

        Assert.True(report.Healthy, report.Message);
        Assert.StartsWith("Redis 7.", report.Message, StringComparison.Ordinal);
        Assert.Equal(TestRedis.Endpoint.Tls, report.Message.Contains(" over TLS", StringComparison.Ordinal));
        Assert.DoesNotContain("Warning", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_WrongPassword_ReportsUnhealthy()
    {
        var driver = new RedisDriver(NullLogger<RedisDriver>.Instance);
        var backend = TestRedis.Endpoint with { AdminPassword = "wrong-" + Guid.NewGuid().ToString("N") };

        var report = await driver.TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("WRONGPASS", report.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(backend.AdminPassword, report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_DefaultUserOn_HealthyWithWarning()
    {
        var driver = new RedisDriver(NullLogger<RedisDriver>.Instance);
        // On, but with a password and no rights: the warning is about the flag, and nothing opens up meanwhile.
        await TestRedis.AdminAsync("ACL", "SETUSER", "default", "on", $">{SecretGenerator.Password()}");
        try
        {
            var report = await driver.TestBackendAsync(TestRedis.Endpoint, Ct);

            Assert.True(report.Healthy, report.Message);
            Assert.Contains("Warning: the default user is on", report.Message, StringComparison.Ordinal);
        }
        finally
        {
            await TestRedis.AdminAsync("ACL", "SETUSER", "default", "off", "resetpass");
        }

        Assert.Equal("off resetchannels -@all", await TestRedis.AclLineAsync("default"));
    }

    [Fact]
    public async Task TestBackendAsync_BindingCredentialsAsAdmin_ReportsCannotManageAcl()
    {
        await using var scope = new RedisScope();
        var instance = await scope.ProvisionedAsync();
        var credentials = await scope.Driver.BindAsync(RedisScope.NewBinding(instance), Ct);
        var backend = TestRedis.Endpoint with
        {
            AdminUser = credentials.Values["username"],
            AdminPassword = credentials.Values["password"],
        };

        var report = await scope.Driver.TestBackendAsync(backend, Ct);

        Assert.False(report.Healthy);
        Assert.Contains("cannot manage ACL users", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestBackendAsync_NothingListening_ReportsUnhealthy()
    {
        var driver = new RedisDriver(NullLogger<RedisDriver>.Instance);

        var report = await driver.TestBackendAsync(TestRedis.Endpoint with { Port = 1 }, Ct);

        Assert.False(report.Healthy);
        Assert.False(string.IsNullOrWhiteSpace(report.Message));
    }

    private static async Task AssertNopermAsync(Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<RedisServerException>(action);
        Assert.True(e.Message.StartsWith("NOPERM", StringComparison.Ordinal), e.Message);
    }

    private static async Task AssertScriptRefusedAsync(Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<RedisServerException>(action);
        // A declared key is refused before the script runs (NOPERM); others when the script reaches them.
        Assert.Matches("^NOPERM |^ERR The user executing the script can't (access|run)", e.Message);
    }

    private static async Task AssertLoginFailsAsync(BindingCredentials credentials)
    {
        var e = await Assert.ThrowsAsync<RedisConnectionException>(() => TestRedis.ConnectAsync(credentials));
        Assert.Equal(ConnectionFailureType.AuthenticationFailure, e.FailureType);
    }
}

/// <summary>Redis driver tests run alone: one of them restarts the shared server.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RedisServerCollection
{
    public const string Name = "Redis server";
}
