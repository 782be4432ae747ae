using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Portal.Application.Teams;
using Portal.Data;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// Sessions, sign-in and the portal's answers as an attacker sees them: sign-out ends the session on the server, guessing
/// is slowed per client address without locking accounts, accounts' existence does not show, security headers are on
/// every answer, and what one team may not see answers 404 or 403 alike.
/// </summary>
public sealed partial class SessionSecurityTests(SessionSecurityTests.Fixture fixture, ITestOutputHelper output)
    : IClassFixture<SessionSecurityTests.Fixture>
{
    /// <summary>The test server knows no client addresses; this header gives each test client one (tests only).</summary>
    public const string AddressHeader = "X-Test-Client-Address";

    public sealed class Fixture : PortalAppFactory
    {
        protected override bool KeepsSignInLimits => true;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSingleton<IStartupFilter, ClientAddressFromHeader>());
        }
    }

    /// <summary>Sets the connection's remote address from <see cref="AddressHeader"/> before anything else runs.</summary>
    private sealed class ClientAddressFromHeader : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((http, nextMiddleware) =>
            {
                if (http.Request.Headers.TryGetValue(AddressHeader, out var value) && IPAddress.TryParse(value, out var address))
                {
                    http.Connection.RemoteIpAddress = address;
                }

                return nextMiddleware(http);
            });
            next(app);
        };
    }

    private const string FailedSignIn =
        "The e-mail address or the password is not right, or the account is locked for a while after many failed attempts.";

    /// <summary>A browser-like client: no redirects followed, cookies kept by hand so a test can replay an old one.</summary>
    private sealed class Browser
    {
        public HttpClient Http { get; }

        public Dictionary<string, string> Cookies { get; } = [];

        public Browser(PortalAppFactory factory, string address)
        {
            Http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
            Http.DefaultRequestHeaders.Add(AddressHeader, address);
        }

        public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, Dictionary<string, string>? form = null)
        {
            using var request = new HttpRequestMessage(method, url);
            if (form is not null)
            {
                request.Content = new FormUrlEncodedContent(form);
            }

            if (Cookies.Count > 0)
            {
                request.Headers.Add("Cookie", string.Join("; ", Cookies.Select(c => $"{c.Key}={c.Value}")));
            }

            var response = await Http.SendAsync(request);
            foreach (var header in response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [])
            {
                var pair = header.Split(';')[0];
                var name = pair[..pair.IndexOf('=')];
                var value = pair[(pair.IndexOf('=') + 1)..];
                if (value.Length == 0 || header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase))
                {
                    Cookies.Remove(name);
                }
                else
                {
                    Cookies[name] = value;
                }
            }

            return response;
        }

        /// <summary>Shows the page and returns the antiforgery token of its form.</summary>
        public async Task<string> FormTokenAsync(string url)
        {
            using var page = await SendAsync(HttpMethod.Get, url);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var html = await page.Content.ReadAsStringAsync();
            var input = AntiforgeryInput().Match(html);
            Assert.True(input.Success, $"no antiforgery token on {url}");
            return WebUtility.HtmlDecode(ValueAttribute().Match(input.Value).Groups[1].Value);
        }

        /// <summary>Posts the sign-in form as a browser does (token first).</summary>
        public async Task<HttpResponseMessage> SignInAsync(string email, string password) =>
            await SendAsync(HttpMethod.Post, "/account/login", new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = await FormTokenAsync("/account/login"),
                ["_handler"] = "login",
                ["Input.Email"] = email,
                ["Input.Password"] = password,
            });
    }

    [GeneratedRegex("<input[^>]*name=\"__RequestVerificationToken\"[^>]*>")]
    private static partial Regex AntiforgeryInput();

    [GeneratedRegex("value=\"([^\"]*)\"")]
    private static partial Regex ValueAttribute();

    [GeneratedRegex("<[^>]+>")]
    private static partial Regex Tags();

    /// <summary>The text of the sign-in page's error, or null when it shows none.</summary>
    private static async Task<string?> SignInErrorAsync(HttpResponseMessage response)
    {
        var html = await response.Content.ReadAsStringAsync();
        var start = html.IndexOf("data-testid=\"login-error\"", StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        var end = html.IndexOf("<form", start, StringComparison.Ordinal);
        var text = WebUtility.HtmlDecode(Tags().Replace(html[(html.IndexOf('>', start) + 1)..end], " "));
        return string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    private async Task<ApiClient> PlatformAsync(string name)
    {
        var (api, _) = await fixture.PlatformAccountAsync(name);
        return api;
    }

    [Fact]
    public async Task SignOut_EndsTheSessionOnTheServer_AndNeedsTheAntiforgeryToken()
    {
        var browser = new Browser(fixture, "10.1.0.1");
        using (var signedIn = await browser.SignInAsync(fixture.AdminEmail, fixture.AdminPassword))
        {
            Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        }

        Assert.True(browser.Cookies.ContainsKey("portal.auth"), "no session cookie after signing in");
        var oldSession = browser.Cookies["portal.auth"];
        using (var account = await browser.SendAsync(HttpMethod.Get, "/audit/export.csv"))
        {
            Assert.Equal(HttpStatusCode.OK, account.StatusCode);
        }

        // Another site's form (no token) cannot sign anyone out, and the session goes on.
        using (var forged = await browser.SendAsync(HttpMethod.Post, "/account/logout", []))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        }

        using (var stillIn = await browser.SendAsync(HttpMethod.Get, "/audit/export.csv"))
        {
            Assert.Equal(HttpStatusCode.OK, stillIn.StatusCode);
        }

        var token = await browser.FormTokenAsync("/account");
        using (var signedOut = await browser.SendAsync(HttpMethod.Post, "/account/logout", new() { ["__RequestVerificationToken"] = token }))
        {
            Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
            Assert.Equal("/account/login", signedOut.Headers.Location!.OriginalString);
        }

        // The cookie from before sign-out, replayed as someone who copied it would: refused by the server.
        var thief = new Browser(fixture, "10.1.0.2");
        thief.Cookies["portal.auth"] = oldSession;
        using var replayed = await thief.SendAsync(HttpMethod.Get, "/audit/export.csv");
        Assert.Equal(HttpStatusCode.Redirect, replayed.StatusCode);
        Assert.StartsWith("/account/login", replayed.Headers.Location!.PathAndQuery);
        using var replayedPage = await thief.SendAsync(HttpMethod.Get, "/account");
        Assert.Equal(HttpStatusCode.Redirect, replayedPage.StatusCode);
        Assert.StartsWith("/account/login", replayedPage.Headers.Location!.PathAndQuery);
    }

    [Fact]
    public async Task WrongPasswords_FromOneAddress_Get429_WhileTheRightPasswordFromAnotherAddressSignsIn()
    {
        var attacker = new Browser(fixture, "10.2.0.1");
        var answered = 0;
        HttpResponseMessage? refused = null;
        for (var attempt = 1; attempt <= 15 && refused is null; attempt++)
        {
            var response = await attacker.SignInAsync(fixture.AdminEmail, $"wrong-password-{attempt}");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
                break;
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(FailedSignIn, await SignInErrorAsync(response));
            answered++;
            response.Dispose();
        }

        Assert.Equal(10, answered);
        Assert.NotNull(refused);
        var retryAfter = int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 60);
        Assert.Contains("Too many sign-in attempts", await refused.Content.ReadAsStringAsync());
        // The refused post did not reach the account: the right password from the same address is refused too.
        using (var blocked = await attacker.SignInAsync(fixture.AdminEmail, fixture.AdminPassword))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        }

        // The admin, from their own address, is not locked out by the attacker.
        var admin = new Browser(fixture, "10.2.0.2");
        using var signedIn = await admin.SignInAsync(fixture.AdminEmail, fixture.AdminPassword);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.True(admin.Cookies.ContainsKey("portal.auth"));
        output.WriteLine($"figures: sign-in posts from one address: {answered} answered, then 429 with Retry-After {retryAfter} s; " +
                         "the right password from another address signed in");
    }

    [Fact]
    public async Task UnknownAndLockedAccounts_GetTheSameAnswer()
    {
        var platform = await PlatformAsync("accounts-admin");
        var (created, body, _) = await platform.SendAsync(HttpMethod.Post, "/api/v1/users",
            new { email = "locked@example.com", displayName = "Locked", isPlatformAdmin = false });
        Assert.Equal(HttpStatusCode.Created, created);
        var password = body!["password"]!.GetValue<string>();
        await using (var scope = fixture.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<PortalUser>>();
            var user = await users.FindByEmailAsync("locked@example.com");
            Assert.True((await users.SetLockoutEndDateAsync(user!, DateTimeOffset.UtcNow.AddHours(1))).Succeeded);
        }

        // Even the right password of a locked account answers as an unknown address does.
        using var locked = await new Browser(fixture, "10.3.0.1").SignInAsync("locked@example.com", password);
        using var unknown = await new Browser(fixture, "10.3.0.2").SignInAsync("nobody-here@example.com", password);
        using var wrong = await new Browser(fixture, "10.3.0.3").SignInAsync(fixture.AdminEmail, "not-the-password");
        Assert.Equal(HttpStatusCode.OK, locked.StatusCode);
        Assert.Equal(locked.StatusCode, unknown.StatusCode);
        Assert.Equal(locked.StatusCode, wrong.StatusCode);
        Assert.Equal(FailedSignIn, await SignInErrorAsync(locked));
        Assert.Equal(FailedSignIn, await SignInErrorAsync(unknown));
        Assert.Equal(FailedSignIn, await SignInErrorAsync(wrong));
    }

    [Fact]
    public async Task HostileNamesAtSignIn_AreRefusedAsAnyWrongName_AndRecordedSafely()
    {
        // The sign-in form and the token endpoint are outside the API's input rules; what they record must still be safe.
        var overriding = "evil\u202Eadmin" + new string('x', 5_000);
        using var form = await new Browser(fixture, "10.5.0.1").SignInAsync(overriding, "whatever");
        Assert.True(form.StatusCode == HttpStatusCode.OK, $"{(int)form.StatusCode} {await form.Content.ReadAsStringAsync()}");
        Assert.Equal(FailedSignIn, await SignInErrorAsync(form));
        // Control characters do not even reach the form's handler: the form is refused whole (400), nothing recorded.
        using var controls = await new Browser(fixture, "10.5.0.3").SignInAsync("evil\u0000\r\nadmin", "whatever");
        Assert.Equal(HttpStatusCode.BadRequest, controls.StatusCode);

        var http = fixture.CreateClient();
        http.DefaultRequestHeaders.Add(AddressHeader, "10.5.0.2");
        using var token = await http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "evil\u0000\r\nadmin" + new string('x', 5_000), ["client_secret"] = "whatever",
        }));
        Assert.Equal(HttpStatusCode.BadRequest, token.StatusCode);
        Assert.Equal("invalid_request", JsonNode.Parse(await token.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());

        // Only the form's attempt was recorded, its name made safe and cut to the column.
        await using var scope = fixture.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
        var recorded = await db.AuditEvents.Where(e => e.Action == "auth.sign-in-failed" && e.Address != null && e.Address.StartsWith("10.5.0."))
            .ToDictionaryAsync(e => e.Address!, e => e.ActorName);
        Assert.Equal(["10.5.0.1"], recorded.Keys);
        Assert.StartsWith("evil\uFFFDadminxxx", recorded["10.5.0.1"], StringComparison.Ordinal);
        Assert.All(recorded.Values, name => Assert.Equal(256, name.Length));
    }

    [Fact]
    public async Task WrongClientSecrets_Get429AfterTheLimit_AndEachRefusalIsAudited()
    {
        var teamId = await fixture.DemoTeamIdAsync();
        var (_, account) = await fixture.TeamAccountAsync(teamId, "developer");
        var http = fixture.CreateClient();
        http.DefaultRequestHeaders.Add(AddressHeader, "10.4.0.1");
        var refusedBySecret = 0;
        var limited = 0;
        string? retryAfter = null;
        for (var i = 0; i < 35; i++)
        {
            using var response = await http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = account.ClientId,
                ["client_secret"] = $"guess-{i}",
            }));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited++;
                retryAfter = response.Headers.GetValues("Retry-After").Single();
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                continue;
            }

            Assert.False(response.IsSuccessStatusCode);
            Assert.Equal("invalid_client", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
            refusedBySecret++;
        }

        Assert.Equal(30, refusedBySecret);
        Assert.Equal(5, limited);
        Assert.NotNull(retryAfter);

        await using (var scope = fixture.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<PortalDbContext>();
            var audited = await db.AuditEvents.CountAsync(e => e.Action == "auth.sign-in-failed" && e.ActorName == account.ClientId
                                                                && e.Address == "10.4.0.1" && e.Details == "token request refused: invalid_client");
            Assert.Equal(refusedBySecret, audited);
            output.WriteLine($"figures: 35 token requests with wrong secrets from one address: {refusedBySecret} refused as invalid_client " +
                             $"(each audited: {audited} audit rows), {limited} answered 429 (Retry-After {retryAfter} s)");
        }

        // The right secret from another address still gets a token.
        var other = fixture.CreateClient();
        other.DefaultRequestHeaders.Add(AddressHeader, "10.4.0.2");
        var api = await ApiClient.SignInAsync(other, account.ClientId, account.ClientSecret);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(HttpMethod.Get, "/api/v1/instances")).Status);
    }

    private static void AssertSecurityHeaders(HttpResponseMessage response, string what)
    {
        var csp = response.Headers.TryGetValues("Content-Security-Policy", out var values) ? values.Single() : null;
        Assert.True(csp is not null, $"{what}: no Content-Security-Policy");
        Assert.Contains("default-src 'self'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.DoesNotContain("unsafe-eval", csp);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
    }

    private static void AssertNoStore(HttpResponseMessage response, string what) =>
        Assert.True(response.Headers.CacheControl?.NoStore == true, $"{what}: Cache-Control is '{response.Headers.CacheControl}', not no-store");

    [Fact]
    public async Task SecurityHeaders_OnPagesApiAnswersAndProblemDetails_AndNoStoreOnTheAuditExport()
    {
        var http = fixture.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        using var page = await http.GetAsync("/account/login");
        AssertSecurityHeaders(page, "sign-in page");
        Assert.Matches("script-src 'self' 'nonce-[A-Za-z0-9+/=]+'", page.Headers.GetValues("Content-Security-Policy").Single());
        AssertNoStore(page, "sign-in page");

        var platform = await PlatformAsync("headers-admin");
        var (_, _, teams) = await platform.SendAsync(HttpMethod.Get, "/api/v1/teams");
        Assert.Equal(HttpStatusCode.OK, teams.StatusCode);
        AssertSecurityHeaders(teams, "API answer");
        AssertNoStore(teams, "API answer");

        var (status, problem, missing) = await platform.SendAsync(HttpMethod.Get, $"/api/v1/instances/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.NotNull(problem!["title"]);
        AssertSecurityHeaders(missing, "Problem Details error");

        using var anonymous = await http.GetAsync("/api/v1/teams");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        AssertSecurityHeaders(anonymous, "401 answer");

        using var csv = await platform.Http.GetAsync("/api/v1/audit/export");
        Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        AssertNoStore(csv, "audit CSV");
    }

    [Fact]
    public async Task ApprovalPolicyAndApproverGroups_AreForPlatformAdminsAndApproversOnly()
    {
        var teamId = await fixture.DemoTeamIdAsync();
        var (plain, _) = await fixture.TeamAccountAsync(teamId, "owner");
        var (grouped, groupedAccount) = await fixture.TeamAccountAsync(teamId, "developer");
        var platform = await PlatformAsync("policy-reader");

        foreach (var url in new[] { "/api/v1/approval-policy", "/api/v1/approver-groups" })
        {
            var (status, problem, _) = await plain.SendAsync(HttpMethod.Get, url);
            Assert.Equal(HttpStatusCode.Forbidden, status);
            Assert.Contains("approvers", problem!["detail"]!.GetValue<string>());
            Assert.Equal(HttpStatusCode.OK, (await platform.SendAsync(HttpMethod.Get, url)).Status);
        }

        // A member of an approver group decides stages, so it may read who decides what.
        Assert.Equal(HttpStatusCode.OK,
            (await platform.SendAsync(HttpMethod.Put, "/api/v1/approver-groups/reviewers", new { members = new[] { groupedAccount.ClientId } })).Status);
        Assert.Equal(HttpStatusCode.OK, (await grouped.SendAsync(HttpMethod.Get, "/api/v1/approval-policy")).Status);
        var groups = await grouped.GetOkAsync("/api/v1/approver-groups");
        Assert.Contains(groups.AsArray(), g => g!["name"]!.GetValue<string>() == "reviewers");
        Assert.Equal(HttpStatusCode.NoContent, (await platform.SendAsync(HttpMethod.Delete, "/api/v1/approver-groups/reviewers")).Status);
    }

    [Fact]
    public async Task ApprovingAnotherTeamsRequest_AnswersNotFound_AsReadingItDoes()
    {
        var admin = await fixture.AdminAsync();
        var gated = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Gated elsewhere", null)));
        var other = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Curious team", null)));
        var (dev, _) = await fixture.TeamAccountAsync(gated.Id, "developer");
        var (stranger, _) = await fixture.TeamAccountAsync(other.Id, "owner");
        var platform = await PlatformAsync("gate-keeper");
        Assert.Equal(HttpStatusCode.OK, (await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", new object[]
        {
            new { name = "owners decide", teamId = gated.Id, autoApprove = false, stages = new object[] { new { name = "owners", approvers = "TeamOwners", requiredApprovals = 1 } } },
        })).Status);
        try
        {
            var (requested, _, response) = await dev.SendAsync(HttpMethod.Post, "/api/v1/instances",
                new { teamId = gated.Id, offering = "postgresql", plan = "small", name = "gated-db" });
            Assert.Equal(HttpStatusCode.Accepted, requested);
            var location = response.Headers.Location!.OriginalString;
            Assert.StartsWith("/api/v1/approvals/", location);

            var (read, _, _) = await stranger.SendAsync(HttpMethod.Get, location);
            var (approve, approveProblem, _) = await stranger.SendAsync(HttpMethod.Post, $"{location}/approve", new { text = "looks fine to me" });
            var (reject, _, _) = await stranger.SendAsync(HttpMethod.Post, $"{location}/reject", new { text = "not mine" });
            Assert.Equal(HttpStatusCode.NotFound, read);
            Assert.Equal(HttpStatusCode.NotFound, approve);
            Assert.Equal(HttpStatusCode.NotFound, reject);
            Assert.DoesNotContain("owners", approveProblem!["detail"]?.GetValue<string>() ?? "");
            var (unknown, _, _) = await stranger.SendAsync(HttpMethod.Post, $"/api/v1/approvals/{Guid.NewGuid()}/approve", new { text = "looks fine to me" });
            Assert.Equal(HttpStatusCode.NotFound, unknown);
        }
        finally
        {
            await platform.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", Array.Empty<object>());
        }
    }

    [Fact]
    public async Task TeamOwner_CannotDemoteOrRemoveAPlatformAdmin_AndTheLastOwnerStays()
    {
        var admin = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("Admin's team", null)));
        var (owner, _) = await fixture.TeamAccountAsync(team.Id, "owner");

        var (demote, demoteProblem, _) = await owner.SendAsync(HttpMethod.Put, $"/api/v1/teams/{team.Id}/members",
            new { email = fixture.AdminEmail, role = "viewer" });
        Assert.Equal(HttpStatusCode.Forbidden, demote);
        Assert.Contains("platform admin", demoteProblem!["detail"]!.GetValue<string>());
        var (remove, _, _) = await owner.SendAsync(HttpMethod.Delete, $"/api/v1/teams/{team.Id}/members/{admin.UserId}");
        Assert.Equal(HttpStatusCode.Forbidden, remove);
        var members = (await owner.GetOkAsync($"/api/v1/teams/{team.Id}"))["members"]!.AsArray();
        Assert.Contains(members, m => m!["email"]!.GetValue<string>() == fixture.AdminEmail && m["role"]!.GetValue<string>() == "owner");

        // The last owner can be neither removed nor demoted, even by a platform admin.
        var solo = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(admin, new CreateTeam("One owner", null)));
        var platform = await PlatformAsync("owners-admin");
        var (removeLast, problem, _) = await platform.SendAsync(HttpMethod.Delete, $"/api/v1/teams/{solo.Id}/members/{admin.UserId}");
        Assert.Equal(HttpStatusCode.Conflict, removeLast);
        Assert.Contains("last owner", problem!["detail"]!.GetValue<string>());
        var (demoteLast, _, _) = await platform.SendAsync(HttpMethod.Put, $"/api/v1/teams/{solo.Id}/members", new { email = fixture.AdminEmail, role = "developer" });
        Assert.Equal(HttpStatusCode.Conflict, demoteLast);
    }
}
