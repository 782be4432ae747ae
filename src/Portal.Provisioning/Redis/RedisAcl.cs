using System.Security.Cryptography;
using System.Text;

namespace Portal.Provisioning.Redis;

/// <summary>The ACL rules the Redis driver gives its users, and the parsing of <c>ACL LIST</c>.</summary>
internal static class RedisAcl
{
    /// <summary>
    /// What a binding may run besides the key and channel patterns. <c>+@all -@dangerous</c> alone still
    /// leaks or reaches across instances, so the rest closes each hole (all verified against Redis 7.0):
    /// SCAN, RANDOMKEY, DBSIZE and MEMORY STATS/DOCTOR reveal other instances' key names or counts;
    /// CLIENT TRACKING BCAST delivers invalidations with every instance's key names; SELECT, MOVE and COPY
    /// reach other databases; FUNCTION and SCRIPT FLUSH act on the server-wide libraries and script cache;
    /// PUBSUB lists every channel. MEMORY USAGE checks its key, so it stays.
    /// </summary>
    internal static readonly IReadOnlyList<string> CommandRules =
    [
        "+@all", "-@dangerous", "-function", "-script|flush", "-scan", "-randomkey", "-dbsize",
        "-select", "-move", "-copy", "-pubsub", "-client|tracking", "-memory", "+memory|usage",
    ];

    /// <summary>
    /// <c>ACL SETUSER</c> arguments that create or replace a binding user. <c>reset</c> first, because
    /// SETUSER is additive: a retry or a re-bind must not keep an old password or rule.
    /// </summary>
    internal static IReadOnlyList<string> BindingUserRules(Guid instanceId, string passwordHash) =>
        ["reset", "on", $"#{passwordHash}", .. ScopeRules(instanceId)];

    /// <summary>
    /// <c>ACL SETUSER</c> arguments that bring an existing binding user to the current rules without
    /// touching its password or its on/off state.
    /// </summary>
    internal static IReadOnlyList<string> ConvergeRules(Guid instanceId) =>
        ["resetkeys", "resetchannels", "clearselectors", "-@all", .. ScopeRules(instanceId)];

    /// <summary>
    /// <c>ACL SETUSER</c> arguments of the instance's marker user: <c>reset</c> leaves it off, without
    /// passwords and commands; the patterns only record the instance's prefix.
    /// </summary>
    internal static IReadOnlyList<string> InstanceUserRules(Guid instanceId) =>
        ["reset", $"~{RedisNames.Pattern(instanceId)}", $"&{RedisNames.Pattern(instanceId)}"];

    /// <summary>The <c>#&lt;hex&gt;</c> form Redis stores: the server never sees the password itself.</summary>
    internal static string PasswordHash(string password) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(password)));

    /// <summary>
    /// Names of the binding users (<see cref="RedisNames.BindingUserPrefix"/>) whose key pattern is the
    /// instance's, read from <c>ACL LIST</c> lines such as <c>user pb-… on #… ~pi-…:* resetchannels &amp;pi-…:* +@all …</c>.
    /// The pattern, not the marker user, ties them to the instance, so they are found even when the
    /// marker is gone (a crash, a hand-made state).
    /// </summary>
    internal static IReadOnlyList<string> BindingUsersOf(IEnumerable<string> aclListLines, Guid instanceId)
    {
        var keyRule = $"~{RedisNames.Pattern(instanceId)}";
        var users = new List<string>();
        foreach (var line in aclListLines)
        {
            var tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length > 2 && tokens[0] == "user"
                && tokens[1].StartsWith(RedisNames.BindingUserPrefix, StringComparison.Ordinal)
                && tokens.AsSpan(2).Contains(keyRule))
            {
                users.Add(tokens[1]);
            }
        }

        return users;
    }

    private static string[] ScopeRules(Guid instanceId) =>
    [
        "sanitize-payload",
        $"~{RedisNames.Pattern(instanceId)}",
        $"&{RedisNames.Pattern(instanceId)}",
        .. CommandRules,
    ];
}
