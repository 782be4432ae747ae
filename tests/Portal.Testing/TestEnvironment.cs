using Npgsql;
using Xunit;

namespace Portal.Testing;

/// <summary>The real servers the tests use, started by <c>ops/portal test</c>.</summary>
public static class TestEnvironment
{
    public const string DatabaseVariable = "PORTAL_TEST_DATABASE";
    public const string BackendVariable = "PORTAL_TEST_PG_BACKEND";
    public const string ChromiumVariable = "PORTAL_TEST_CHROMIUM";
    public const string CaVariable = "PORTAL_TEST_CA_DIR";

    /// <summary>
    /// The folder with the tests' platform CA (<c>ca.crt</c>, <c>ca.key</c>), made by <c>ops/portal test</c> (ops/lib/ca.sh):
    /// the test servers serve TLS with certificates it issued, and the portal under test imports it.
    /// </summary>
    public static string CaDirectory => Require(CaVariable, "the tests' platform CA (openssl, ops/lib/ca.sh)");

    /// <summary>Superuser connection string of the PostgreSQL server that holds the tests' portal databases.</summary>
    public static string PortalServer => Require(DatabaseVariable, "a private PostgreSQL cluster for the portal's test databases");

    /// <summary>Admin connection string of the PostgreSQL server the driver provisions on.</summary>
    public static NpgsqlConnectionStringBuilder Backend => new(Require(BackendVariable, "a private PostgreSQL backend cluster"));

    /// <summary>Environment variables of the backend servers of each kind (endpoint strings from ops/backends/*).</summary>
    public static readonly IReadOnlyDictionary<string, (string Variable, string Package)> BackendKinds =
        new Dictionary<string, (string, string)>
        {
            ["rabbitmq"] = ("PORTAL_TEST_RABBITMQ", "rabbitmq-server"),
            ["etcd"] = ("PORTAL_TEST_ETCD", "etcd-server"),
            ["redis"] = ("PORTAL_TEST_REDIS", "redis-server"),
            ["s3"] = ("PORTAL_TEST_S3", "radosgw ceph-mon ceph-osd"),
            ["logging"] = ("PORTAL_TEST_LOGGING", "rsyslog"),
            ["monitoring"] = ("PORTAL_TEST_MONITORING", "prometheus prometheus-alertmanager"),
        };

    /// <summary>The endpoint strings of the kinds whose servers are running (none is required here).</summary>
    public static IEnumerable<KeyValuePair<string, string>> OptionalBackends =>
        BackendKinds.Select(k => KeyValuePair.Create(k.Key, Environment.GetEnvironmentVariable(k.Value.Variable) ?? ""))
            .Where(k => k.Value.Length > 0);

    /// <summary>The endpoint string of a kind's server; fails the test naming the install step when missing.</summary>
    public static string BackendOf(string kind)
    {
        var (variable, package) = BackendKinds[kind];
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Fail($"{variable} is not set: run `ops/portal test`, which installs {package} (apt-get install {package}) and starts ops/backends/{kind}.");
        }

        return value!;
    }

    public static string Chromium
    {
        get
        {
            var path = Environment.GetEnvironmentVariable(ChromiumVariable) ?? "/usr/bin/chromium";
            if (!File.Exists(path))
            {
                Assert.Fail($"Chromium is not installed at {path}: run `ops/portal test`, which installs it (apt-get install chromium).");
            }

            return path;
        }
    }

    // Fail, never skip: a green run must mean the real servers were there.
    private static string Require(string variable, string what)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Fail($"{variable} is not set: run `ops/portal test`, which installs PostgreSQL (apt-get install postgresql) and starts {what}.");
        }

        return value!;
    }
}
