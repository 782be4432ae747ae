using Npgsql;
using Xunit;

namespace Portal.Testing;

/// <summary>The real servers the tests use, started by <c>ops/portal test</c>.</summary>
public static class TestEnvironment
{
    public const string DatabaseVariable = "PORTAL_TEST_DATABASE";
    public const string BackendVariable = "PORTAL_TEST_PG_BACKEND";
    public const string ChromiumVariable = "PORTAL_TEST_CHROMIUM";

    /// <summary>Superuser connection string of the PostgreSQL server that holds the tests' portal databases.</summary>
    public static string PortalServer => Require(DatabaseVariable, "a private PostgreSQL cluster for the portal's test databases");

    /// <summary>Admin connection string of the PostgreSQL server the driver provisions on.</summary>
    public static NpgsqlConnectionStringBuilder Backend => new(Require(BackendVariable, "a private PostgreSQL backend cluster"));

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
