using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Http;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// X-Forwarded-For and X-Forwarded-Proto count from the proxies the settings name (ForwardedHeaders:KnownProxies,
/// ForwardedHeaders:KnownNetworks) and from nobody else: the scheme decides the issuer a request sees, the address the
/// sign-in rate limit it counts against.
/// </summary>
public sealed class ForwardedHeadersTests(ForwardedHeadersTests.Fixture fixture) : IClassFixture<ForwardedHeadersTests.Fixture>
{
    private const string Proxy = "10.0.0.5";
    private const string ProxyNetwork = "192.0.2.0/24";
    private const string Stranger = "10.9.9.9";
    private const int TokenRequestsPerMinute = 3;

    public sealed class Fixture : PortalAppFactory
    {
        protected override bool KeepsSignInLimits => true;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // No fixed issuer: OpenIddict takes it from the request, so the discovery document shows the scheme it saw.
            builder.UseSetting("Auth:Issuer", "");
            builder.UseSetting("Auth:RateLimits:TokenRequestsPerMinute", TokenRequestsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture));
            // The names the cluster's web hosts get from the environment (ForwardedHeaders__KnownProxies__0=…).
            builder.UseSetting("ForwardedHeaders:KnownProxies:0", Proxy);
            builder.UseSetting("ForwardedHeaders:KnownNetworks:0", ProxyNetwork);
            builder.ConfigureTestServices(services => services.AddSingleton<IStartupFilter, SenderAddressFromHeader>());
        }
    }

    /// <summary>The in-memory server has no connections: this header sets the sender's address before anything else runs.</summary>
    private const string SenderHeader = "X-Test-Sender-Address";

    private sealed class SenderAddressFromHeader : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((http, nextMiddleware) =>
            {
                if (http.Request.Headers.TryGetValue(SenderHeader, out var value) && IPAddress.TryParse(value, out var address))
                {
                    http.Connection.RemoteIpAddress = address;
                }

                return nextMiddleware(http);
            });
            next(app);
        };
    }

    /// <summary>One request as it reaches the server from <paramref name="from"/>, with the forwarded headers given.</summary>
    private async Task<HttpContext> SendAsync(string from, string method, string path, string? forwardedFor = null, string? forwardedProto = null)
    {
        return await fixture.Server.SendAsync(http =>
        {
            http.Request.Headers[SenderHeader] = from;
            http.Request.Method = method;
            http.Request.Path = path;
            if (forwardedFor is not null)
            {
                http.Request.Headers["X-Forwarded-For"] = forwardedFor;
            }

            if (forwardedProto is not null)
            {
                http.Request.Headers["X-Forwarded-Proto"] = forwardedProto;
            }

            if (HttpMethods.IsPost(method))
            {
                // A client secret guess: refused by OpenIddict, counted by the rate limit first.
                var form = Encoding.UTF8.GetBytes("grant_type=client_credentials&client_id=sa-nobody&client_secret=guess");
                http.Request.ContentType = "application/x-www-form-urlencoded";
                http.Request.ContentLength = form.Length;
                http.Request.Body = new MemoryStream(form);
            }
        }, TestContext.Current.CancellationToken);
    }

    private async Task<string> IssuerSeenByAsync(string from, string? forwardedProto)
    {
        var http = await SendAsync(from, "GET", "/.well-known/openid-configuration", forwardedFor: "203.0.113.7", forwardedProto);
        Assert.Equal(StatusCodes.Status200OK, http.Response.StatusCode);
        var discovery = await JsonNode.ParseAsync(http.Response.Body, cancellationToken: TestContext.Current.CancellationToken);
        return discovery!["issuer"]!.GetValue<string>();
    }

    [Fact]
    public async Task Discovery_FromAKnownProxyOrNetwork_ShowsTheForwardedScheme()
    {
        Assert.Equal("https://localhost/", await IssuerSeenByAsync(Proxy, "https"));
        Assert.Equal("https://localhost/", await IssuerSeenByAsync("192.0.2.77", "https"));
        // Without the header the request is what it is.
        Assert.Equal("http://localhost/", await IssuerSeenByAsync(Proxy, forwardedProto: null));
    }

    [Fact]
    public async Task Discovery_FromAnyoneElse_IgnoresForwardedHeaders()
    {
        Assert.Equal("http://localhost/", await IssuerSeenByAsync(Stranger, "https"));
        Assert.Equal("http://localhost/", await IssuerSeenByAsync("192.0.3.1", "https"));
    }

    [Fact]
    public async Task TokenRateLimit_BehindAKnownProxy_CountsEachForwardedClient()
    {
        async Task<int> GuessAsync(string from, string forwardedFor) =>
            (await SendAsync(from, "POST", "/connect/token", forwardedFor, "https")).Response.StatusCode;

        // One client behind the proxy uses up its own budget…
        for (var i = 0; i < TokenRequestsPerMinute; i++)
        {
            Assert.NotEqual(StatusCodes.Status429TooManyRequests, await GuessAsync(Proxy, "198.51.100.1"));
        }

        Assert.Equal(StatusCodes.Status429TooManyRequests, await GuessAsync(Proxy, "198.51.100.1"));
        // …while another client behind the same proxy is not slowed by it.
        Assert.NotEqual(StatusCodes.Status429TooManyRequests, await GuessAsync(Proxy, "198.51.100.2"));
    }

    [Fact]
    public async Task TokenRateLimit_FromAnUntrustedSender_CountsTheSenderWhateverItForwards()
    {
        // A stranger cannot spread its guesses over made-up client addresses.
        for (var i = 0; i < TokenRequestsPerMinute; i++)
        {
            Assert.NotEqual(StatusCodes.Status429TooManyRequests, (await SendAsync(Stranger, "POST", "/connect/token", $"198.51.100.{10 + i}")).Response.StatusCode);
        }

        Assert.Equal(StatusCodes.Status429TooManyRequests, (await SendAsync(Stranger, "POST", "/connect/token", "198.51.100.99")).Response.StatusCode);
    }
}
