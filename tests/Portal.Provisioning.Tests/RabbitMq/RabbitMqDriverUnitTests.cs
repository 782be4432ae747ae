using Microsoft.Extensions.Logging.Abstractions;
using Portal.Provisioning.RabbitMq;

namespace Portal.Provisioning.Tests.RabbitMq;

/// <summary>The driver's pure parts: URLs, escaping, password hashes and limit mapping (no server needed).</summary>
public sealed class RabbitMqDriverUnitTests
{
    [Theory]
    [InlineData("http://127.0.0.1:15672", new[] { "vhosts", "/" }, "http://127.0.0.1:15672/api/vhosts/%2F")]
    [InlineData("http://127.0.0.1:15672/", new[] { "vhosts", "pi_1" }, "http://127.0.0.1:15672/api/vhosts/pi_1")]
    [InlineData("http://mq.example:15672/rabbit", new[] { "permissions", "a/b c", "u?#%" }, "http://mq.example:15672/rabbit/api/permissions/a%2Fb%20c/u%3F%23%25")]
    public void ApiUri_Segments_AreEscapedUnderTheManagementUrl(string managementUrl, string[] segments, string expected)
    {
        var backend = new BackendEndpoint("h", 5672, "a", "p") { Settings = new Dictionary<string, string> { ["managementUrl"] = managementUrl } };

        var uri = RabbitMqDriver.ApiUri(RabbitMqDriver.ManagementUrl(backend), segments);

        // AbsoluteUri is what goes on the wire: %2F must stay escaped, or RabbitMQ would see another path.
        Assert.Equal(expected, uri.AbsoluteUri);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("127.0.0.1:15672")]
    [InlineData("ftp://127.0.0.1:15672")]
    [InlineData("http://admin:secret@127.0.0.1:15672")]
    public void ManagementUrl_MissingOrInvalid_ThrowsInvalidOperation(string? value)
    {
        var settings = value is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["managementUrl"] = value };
        var backend = new BackendEndpoint("h", 5672, "a", "p") { Settings = settings };

        var e = Assert.Throws<InvalidOperationException>(() => RabbitMqDriver.ManagementUrl(backend));

        Assert.Contains("managementUrl", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ManagementUrl_FromEndpointString_IsRead()
    {
        var backend = BackendEndpoint.Parse("Host=127.0.0.1;Port=23400;AdminUser=portal-admin;AdminPassword=x;managementUrl=http://127.0.0.1:23402");

        Assert.Equal("http://127.0.0.1:23402/", RabbitMqDriver.ManagementUrl(backend).AbsoluteUri);
    }

    [Theory]
    [InlineData("127.0.0.1", "pi_1", "amqp://u:p@127.0.0.1:5672/pi_1")]
    [InlineData("::1", "/", "amqp://u:p@[::1]:5672/%2F")]
    [InlineData("mq.example", "a b", "amqp://u:p@mq.example:5672/a%20b")]
    public void AmqpUri_Parts_AreEscaped(string host, string vhost, string expected)
    {
        Assert.Equal(expected, RabbitMqDriver.AmqpUri(host, 5672, "u", "p", vhost));
    }

    [Fact]
    public void AmqpUri_Tls_UsesAmqpsScheme()
    {
        Assert.Equal("amqps://u:p@127.0.0.1:5671/pi_1", RabbitMqDriver.AmqpUri("127.0.0.1", 5671, "u", "p", "pi_1", tls: true));
    }

    [Fact]
    public void AmqpUri_ReservedCharsInLogin_AreEscaped()
    {
        Assert.Equal("amqp://a%40b:p%3A%2F@h:1/v", RabbitMqDriver.AmqpUri("h", 1, "a@b", "p:/", "v"));
    }

    [Fact]
    public void PasswordHash_DocumentedExample_Matches()
    {
        // The worked example of RabbitMQ's "Passwords" guide: salt 908DC60A, password test12.
        Assert.Equal("kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR",
            RabbitMqDriver.PasswordHash("test12", Convert.FromHexString("908DC60A")));
    }

    [Fact]
    public void PasswordHash_SamePasswordTwice_DiffersBySalt()
    {
        var first = Convert.FromBase64String(RabbitMqDriver.PasswordHash("secret"));
        var second = Convert.FromBase64String(RabbitMqDriver.PasswordHash("secret"));

        Assert.Equal(36, first.Length);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void VhostLimits_PlanLimits_MapToVhostLimitsInFixedOrder()
    {
        var limits = RabbitMqDriver.VhostLimits(new Dictionary<string, int> { ["queues"] = 7, ["connections"] = 0, ["other"] = 3 });

        Assert.Equal([("max-connections", (int?)0), ("max-queues", (int?)7)], limits);
    }

    [Fact]
    public void VhostLimits_MissingOrMinusOne_MeansNoLimit()
    {
        var limits = RabbitMqDriver.VhostLimits(new Dictionary<string, int> { ["connections"] = -1 });

        Assert.Equal([("max-connections", (int?)null), ("max-queues", (int?)null)], limits);
    }

    [Fact]
    public void VhostLimits_BelowMinusOne_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RabbitMqDriver.VhostLimits(new Dictionary<string, int> { ["queues"] = -2 }));
    }

    [Fact]
    public void Fields_Declared_NameSettingAndLimits()
    {
        IServiceDriver driver = new RabbitMqDriver(new TestHttpClientFactory(), NullLogger<RabbitMqDriver>.Instance);

        Assert.Equal("rabbitmq", driver.Kind);
        var setting = Assert.Single(driver.BackendSettings);
        Assert.Equal(("managementUrl", true), (setting.Name, setting.Required));
        Assert.Equal(["connections", "queues"], driver.PlanLimits.Select(f => f.Name));
    }
}
