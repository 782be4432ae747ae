using Portal.Provisioning.Certificates;

namespace Portal.Provisioning.Tests;

/// <summary>The real servers the driver tests run against, as <c>ops/portal test</c> started them.</summary>
internal static class TestBackends
{
    /// <summary>
    /// The admin endpoint a kind's <c>ops/backends/&lt;kind&gt;</c> script wrote, from <paramref name="variable"/>;
    /// fails the test, naming the install step, when it is missing. Fail, never skip: a green run must mean the
    /// driver really worked against its server.
    /// </summary>
    public static BackendEndpoint Require(string kind, string variable, string packages)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Fail(
                $"{variable} is not set: run `ops/portal test`, which installs {packages} (apt-get install {packages}) " +
                $"and starts ops/backends/{kind}. By hand: ops/backends/{kind} start /tmp/{kind}-dev && " +
                $"export {variable}=\"$(cat /tmp/{kind}-dev/endpoint)\".");
        }

        return BackendEndpoint.Parse(value!) with { PlatformCa = Ca };
    }

    public const string CaVariable = "PORTAL_TEST_CA_DIR";

    private static readonly Lazy<CertificateAuthority?> LoadedCa = new(() =>
    {
        var dir = Environment.GetEnvironmentVariable(CaVariable);
        return string.IsNullOrWhiteSpace(dir) || !File.Exists(Path.Combine(dir, "ca.key"))
            ? null
            : CertificateAuthority.FromPem(File.ReadAllText(Path.Combine(dir, "ca.crt")), File.ReadAllText(Path.Combine(dir, "ca.key")));
    });

    /// <summary>
    /// The tests' platform CA (<c>ca.crt</c>/<c>ca.key</c> in <see cref="CaVariable"/>), which issued the test servers'
    /// TLS certificates and which they trust for client certificates. Fails the test when it is missing.
    /// </summary>
    public static CertificateAuthority Ca
    {
        get
        {
            if (LoadedCa.Value is null)
            {
                Assert.Fail(
                    $"{CaVariable} is not set (or has no ca.crt/ca.key): run `ops/portal test`, which makes the tests' CA with " +
                    "openssl (apt-get install openssl, ops/lib/ca.sh) and starts the servers with TLS. By hand: " +
                    $"source ops/lib/apt.sh ops/lib/ca.sh; ca_ensure /tmp/dev-ca; export {CaVariable}=/tmp/dev-ca PORTAL_CA_DIR=/tmp/dev-ca " +
                    "before starting the servers.");
            }

            return LoadedCa.Value!;
        }
    }
}
