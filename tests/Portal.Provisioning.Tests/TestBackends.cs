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

        return BackendEndpoint.Parse(value!);
    }
}
