using System.Globalization;
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

    /// <summary>
    /// How a binding user's <c>ACL LIST</c> line differs from <see cref="BindingUserRules"/>: off, without a password
    /// or with <c>nopass</c>, other key or channel patterns, selectors, other command rules. Redis prints the command
    /// rules in an order of its own, so they are compared as a set. Never names a password hash.
    /// </summary>
    internal static IReadOnlyList<string> BindingUserDrift(string aclListLine, Guid instanceId)
    {
        var (user, rules) = Split(aclListLine);
        var differences = new List<string>();
        if (!rules.Contains("on"))
        {
            differences.Add($"ACL user {user} is off");
        }

        if (rules.Contains("nopass"))
        {
            differences.Add($"ACL user {user} takes any password (nopass)");
        }
        else if (rules.Count(r => r.StartsWith('#')) != 1)
        {
            differences.Add($"ACL user {user} has {rules.Count(r => r.StartsWith('#')).ToString(CultureInfo.InvariantCulture)} passwords, not one");
        }

        AddPatternDrift(differences, user, rules, '~', "keys", $"~{RedisNames.Pattern(instanceId)}");
        AddPatternDrift(differences, user, rules, '&', "channels", $"&{RedisNames.Pattern(instanceId)}");
        if (rules.Any(r => r.StartsWith('(')))
        {
            differences.Add($"ACL user {user} has selectors, which may grant more than its own rules");
        }

        var commands = rules.Where(r => r.Length > 1 && r[0] is '+' or '-').ToHashSet(StringComparer.Ordinal);
        var extra = commands.Except(CommandRules, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (extra.Count > 0)
        {
            differences.Add($"ACL user {user} has the command rules {string.Join(' ', extra)}, which the driver does not give");
        }

        var missing = CommandRules.Except(commands, StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            differences.Add($"ACL user {user} lacks the command rules {string.Join(' ', missing)}");
        }

        return differences;
    }

    /// <summary>How the instance's marker user differs from <see cref="InstanceUserRules"/>: it must stay off.</summary>
    internal static IReadOnlyList<string> InstanceUserDrift(string aclListLine)
    {
        var (user, rules) = Split(aclListLine);
        return rules.Contains("on") ? [$"the marker user {user} is on"] : [];
    }

    /// <summary>The <c>ACL LIST</c> line of <paramref name="user"/>, or null.</summary>
    internal static string? LineOf(IEnumerable<string> aclListLines, string user) =>
        aclListLines.FirstOrDefault(l => l.StartsWith($"user {user} ", StringComparison.Ordinal));

    /// <summary>The user and its rules; a selector, <c>(…)</c> with spaces inside, is one rule.</summary>
    private static (string User, string[] Rules) Split(string aclListLine)
    {
        var tokens = aclListLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (tokens is not ["user", var user, .. var words])
        {
            throw new FormatException("Not an ACL LIST line.");
        }

        var rules = new List<string>();
        var inSelector = false;
        foreach (var word in words)
        {
            if (inSelector)
            {
                rules[^1] += " " + word;
            }
            else
            {
                rules.Add(word);
            }

            inSelector = (inSelector || word.StartsWith('(')) && !word.EndsWith(')');
        }

        return (user, [.. rules]);
    }

    private static void AddPatternDrift(List<string> differences, string user, string[] rules, char mark, string what, string wanted)
    {
        // %R~ and %W~ (read- or write-only key patterns) reach keys too.
        var patterns = rules.Where(r => (r.Length > 1 && (r[0] == mark || (mark == '~' && r[0] == '%'))) || r == $"all{what}").ToList();
        if (patterns is not [var only] || only != wanted)
        {
            differences.Add($"ACL user {user} may reach the {what} {Describe(patterns)}, not only {wanted[1..]}");
        }
    }

    private static string Describe(IReadOnlyCollection<string> rules) => rules.Count == 0 ? "(none)" : string.Join(' ', rules);

    private static string[] ScopeRules(Guid instanceId) =>
    [
        "sanitize-payload",
        $"~{RedisNames.Pattern(instanceId)}",
        $"&{RedisNames.Pattern(instanceId)}",
        .. CommandRules,
    ];
}
