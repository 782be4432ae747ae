using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using Portal.Application.Accounts;
using Portal.Application.Teams;
using Portal.Testing;

namespace Portal.Integration.Tests;

/// <summary>
/// Walks the OpenAPI document and sends every operation a hostile corpus (control characters, oversize strings, wrong
/// types, nulls, missing fields, duplicate keys, malformed JSON, injection strings, unicode tricks, path traversal), as a
/// platform admin and as a team owner, with real ids where the path needs them. Nothing may answer 5xx, and a refused
/// request may change nothing.
/// </summary>
public sealed partial class HostileInputTests(HostileInputTests.Fixture fixture) : IClassFixture<HostileInputTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // Nothing but the requests may change rows while the test compares snapshots.
            builder.UseSetting("Reconcile:Schedule", Hangfire.Cron.Never());
            builder.UseSetting("Leases:Schedule", Hangfire.Cron.Never());
            builder.UseSetting("Approvals:Schedule", Hangfire.Cron.Never());
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // A lone surrogate cannot live in a .NET string that is serialized faithfully; it is put into the JSON text instead.
    private const string LoneSurrogate = "__lone_surrogate__";

    /// <summary>Strings that must never cause a 5xx, wherever they go.</summary>
    private static readonly string[] HostileStrings =
    [
        "a\u0000b", "line1\r\nline2", "\u001b[31mred", new string('x', 10 * 1024),
        "'; DROP TABLE \"Teams\"; --", "<script>alert(1)</script>", "$(id)", "{{7*7}}",
        "evil\u202Etxt.exe", "zero\u200Bwidth", "\u0440\u0430\u0443\u0440\u0430l", LoneSurrogate, "../../etc/passwd", "%2e%2e%2f",
    ];

    /// <summary>Values of the wrong kind for any field: each is tried on every field.</summary>
    private static readonly JsonNode?[] WrongTypes = [JsonValue.Create(12345), new JsonObject { ["a"] = 1 }, new JsonArray(1, 2), JsonValue.Create(true), null];

    private static readonly JsonNode[] HostileNumbers =
    [
        JsonValue.Create(-1), JsonValue.Create(0), JsonValue.Create(2147483648L), JsonValue.Create(1e308), JsonValue.Create(1.5), JsonValue.Create("1"),
    ];

    /// <summary>Path segments in place of an id or name (raw: already escaped where they need to be).</summary>
    private static readonly string[] HostilePathValues =
    [
        "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f", "a%00b", Guid.NewGuid().ToString(), "%27%3B%20DROP%20TABLE%20x%3B--",
        "%E2%80%AEevil", new string('x', 3000),
    ];

    /// <summary>Query values (raw).</summary>
    private static readonly string[] HostileQueryValues =
    [
        "a%00b", "%0D%0Aheader", "%1B", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f", "%27%3B%20DROP%20TABLE%20x%3B--", "%3Cscript%3E",
        "%24(id)", "%E2%80%AE", "%ED%A0%80", new string('x', 10 * 1024), "-1", "2147483648",
    ];

    private sealed record Operation(string Method, string Path, IReadOnlyList<string> PathParameters, IReadOnlyList<string> QueryParameters, JsonNode? BodySchema)
    {
        public bool Safe => Method == "GET";

        public override string ToString() => $"{Method} {Path}";
    }

    private sealed record Attempt(string Url, string? Body, string What, string ContentType = "application/json");

    [Fact]
    public async Task EveryOperation_HostileInput_NeverAnswers5xxAndRefusalsChangeNothing()
    {
        var started = DateTime.UtcNow;
        var ids = await ArrangeAsync();
        await WatchWritesAsync();
        using var openApi = JsonDocument.Parse(await fixture.CreateClient().GetStringAsync("/openapi/v1.json", Ct));
        var document = JsonNode.Parse(openApi.RootElement.GetRawText())!;
        var operations = OperationsOf(document).ToList();
        Assert.True(operations.Count > 50, $"the OpenAPI document lists {operations.Count} operations");

        var inputs = 0;
        var waited = TimeSpan.Zero;
        var slowest = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        var refused = 0;
        var failures = new List<string>();
        var changes = new List<string>();
        var snapshot = await SnapshotAsync();
        foreach (var (who, api) in new[] { ("admin", ids.Admin), ("owner", ids.Owner) })
        {
            foreach (var operation in operations)
            {
                var attempts = AttemptsFor(operation, document, ids).ToList();
                Assert.True(attempts.Count > 0, $"{operation}: no hostile input to send");
                foreach (var attempt in attempts)
                {
                    using var request = new HttpRequestMessage(new HttpMethod(operation.Method), attempt.Url);
                    if (attempt.Body is not null)
                    {
                        request.Content = new StringContent(attempt.Body, Encoding.UTF8);
                        request.Content.Headers.ContentType = new MediaTypeHeaderValue(attempt.ContentType);
                    }

                    inputs++;
                    var sent = DateTime.UtcNow;
                    var (status, text) = await SendAsync(api, request);
                    slowest[operation.ToString()] = slowest.GetValueOrDefault(operation.ToString()) + (DateTime.UtcNow - sent);
                    if (status >= 500)
                    {
                        failures.Add($"{who} {operation} {attempt.What}: {status} {Shorten(text)}");
                    }

                    if (status is >= 400 and < 500)
                    {
                        refused++;
                        var after = await SnapshotAsync();
                        if (after != snapshot)
                        {
                            changes.Add($"{who} {operation} {attempt.What}: {status} changed {Difference(snapshot, after)}");
                            snapshot = after;
                        }
                    }
                    else
                    {
                        // An accepted change may start work in the background: let it finish before the next comparison.
                        var waiting = DateTime.UtcNow;
                        snapshot = operation.Safe ? await SnapshotAsync() : await QuietSnapshotAsync();
                        waited += DateTime.UtcNow - waiting;
                    }
                }
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"figures: hostile input operations {operations.Count}, inputs {inputs}, 5xx {failures.Count}, changes {changes.Count}");
        TestContext.Current.TestOutputHelper?.WriteLine($"(as admin and as team owner: {refused} refused with 4xx, {inputs - refused - failures.Count} accepted; {(DateTime.UtcNow - started).TotalSeconds:0} s, " +
            $"{waited.TotalSeconds:0} s of them waiting for accepted work; slowest: " +
            string.Join(", ", slowest.OrderByDescending(s => s.Value).Take(5).Select(s => $"{s.Key} {s.Value.TotalSeconds:0.0} s")) + ")");
        Assert.True(failures.Count == 0, $"{failures.Count} answers were 5xx:\n{string.Join('\n', failures.Take(40))}");
        Assert.True(changes.Count == 0, $"{changes.Count} refused requests changed something:\n{string.Join('\n', changes.Take(40))}");
    }

    /// <summary>
    /// Sends one request. A NUL in the path never reaches the app: Kestrel answers 400 to the request line, and the
    /// in-memory test server throws the same refusal instead, which counts as that 400.
    /// </summary>
    private static async Task<(int Status, string Text)> SendAsync(ApiClient api, HttpRequestMessage request)
    {
        try
        {
            using var response = await api.Http.SendAsync(request, Ct);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(Ct));
        }
        catch (InvalidOperationException e) when (e.Message == "The path contains null characters.")
        {
            return (400, e.Message);
        }
    }

    [Fact]
    public async Task KnownHostileInputs_AreRefusedNamingTheField()
    {
        var (admin, _) = await fixture.PlatformAccountAsync("hostile-known");
        var root = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(root, new CreateTeam("Known hostile team", null)));
        var user = await fixture.RunAsync<CreateUserHandler, UserCreated>(h => h.HandleAsync(root, new CreateUser("roles-target@example.com", "Roles target", false)));
        var offering = (await admin.GetOkAsync("/api/v1/offerings")).AsArray()[0]!["id"]!.GetValue<string>();

        async Task<JsonNode> RefusedAsync(HttpMethod method, string url, string json, params string[] fields)
        {
            using var request = new HttpRequestMessage(method, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            using var response = await admin.Http.SendAsync(request, Ct);
            var text = await response.Content.ReadAsStringAsync(Ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {url} {json}: {(int)response.StatusCode} {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonNode.Parse(text)!;
            foreach (var field in fields)
            {
                Assert.True(problem["errors"]?[field] is not null, $"{json}: no error for {field} in {text}");
            }

            return problem;
        }

        // NUL (PostgreSQL refuses it in text) in bodies and query strings.
        await RefusedAsync(HttpMethod.Post, "/api/v1/teams", """{"name":"a\u0000b","slug":null}""", "name");
        await RefusedAsync(HttpMethod.Put, $"/api/v1/teams/{team.Id}/members", """{"email":"x\u0000@example.com","role":"viewer"}""", "email");
        using (var search = await admin.Http.GetAsync("/api/v1/instances?search=a%00b", Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, search.StatusCode);
            Assert.NotNull(JsonNode.Parse(await search.Content.ReadAsStringAsync(Ct))!["errors"]!["search"]);
        }

        // Required fields: missing or null is a 400 naming them, never a silent default.
        await RefusedAsync(HttpMethod.Put, $"/api/v1/users/{user.User.Id}/roles", """{"platformRoles":null}""", "platformRoles");
        await RefusedAsync(HttpMethod.Put, $"/api/v1/users/{user.User.Id}/roles", "{}", "platformRoles");
        await RefusedAsync(HttpMethod.Put, $"/api/v1/teams/{team.Id}/quota", """{"maxInstances":5}""", "maxMonthlyCost", "maxInstancesPerOffering");
        await RefusedAsync(HttpMethod.Put, "/api/v1/approver-groups/hostile", """{"description":null,"members":[null]}""", "members[0]");

        // The approval policy: null stages, an empty rule, unknown offerings, approvers by number, oversize text.
        await RefusedAsync(HttpMethod.Put, "/api/v1/approval-policy", """[{"name":"r","autoApprove":false,"stages":null}]""", "rules[0].stages");
        await RefusedAsync(HttpMethod.Put, "/api/v1/approval-policy", "[{}]", "rules[0].name");
        await RefusedAsync(HttpMethod.Put, "/api/v1/approval-policy", """[{"name":"r","offering":"no-such-offering","autoApprove":true,"stages":[]}]""", "rules[0].offering");
        await RefusedAsync(HttpMethod.Put, "/api/v1/approval-policy", $$"""[{"name":"r","offering":"{{new string('x', 10240)}}","autoApprove":true,"stages":[]}]""", "rules[0].offering");
        foreach (var approvers in new[] { "0", "-1" })
        {
            await RefusedAsync(HttpMethod.Put, "/api/v1/approval-policy",
                $$"""[{"name":"r","autoApprove":false,"stages":[{"name":"s","approvers":{{approvers}},"group":null,"requiredApprovals":1}]}]""", "rules[0].stages[0].approvers");
        }

        // Backends: CR/LF, shell and HTML text, 10 KB values.
        const string backend = """{"name":"NAME","kind":"postgresql","host":"127.0.0.1","port":5432,"adminUser":"USER","adminPassword":"p","settings":SETTINGS}""";
        string Backend(string name = "ok-name", string userName = "postgres", string settings = "null") =>
            backend.Replace("NAME", name, StringComparison.Ordinal).Replace("USER", userName, StringComparison.Ordinal).Replace("SETTINGS", settings, StringComparison.Ordinal);
        await RefusedAsync(HttpMethod.Post, "/api/v1/backends", Backend(name: "<script>alert(1)</script>"), "name");
        await RefusedAsync(HttpMethod.Post, "/api/v1/backends", Backend(name: "a\\r\\nb"), "name");
        await RefusedAsync(HttpMethod.Post, "/api/v1/backends", Backend(userName: "admin\\r\\nX-Injected: 1"), "adminUser");
        await RefusedAsync(HttpMethod.Post, "/api/v1/backends", Backend(userName: "$(id)"), "adminUser");
        await RefusedAsync(HttpMethod.Post, "/api/v1/backends", Backend(userName: new string('u', 10240)), "adminUser");
        await RefusedAsync(HttpMethod.Post, "/api/v1/backends", Backend(settings: """{"tls":"<b>x</b>"}"""), "settings.tls");

        // Service account names: CR/LF and text-direction overrides.
        await RefusedAsync(HttpMethod.Post, $"/api/v1/teams/{team.Id}/service-accounts", """{"name":"bot\r\nx","role":"viewer"}""", "name");
        await RefusedAsync(HttpMethod.Post, $"/api/v1/teams/{team.Id}/service-accounts", """{"name":"bot\u202Egnp.exe","role":"viewer"}""", "name");
        await RefusedAsync(HttpMethod.Post, "/api/v1/platform-service-accounts", """{"name":"bot\u2066x"}""", "name");

        // Numbers out of range; duplicate keys; malformed JSON says where.
        await RefusedAsync(HttpMethod.Post, $"/api/v1/offerings/{offering}/plans",
            """{"key":"huge","name":"Huge","description":null,"monthlyCost":2147483648,"limits":null}""", "monthlyCost");
        await RefusedAsync(HttpMethod.Post, "/api/v1/teams", """{"name":"First","name":"Second","slug":null}""", "name");
        var malformed = await RefusedAsync(HttpMethod.Post, "/api/v1/teams", "{\n  \"name\": \"x\",\n  \"slug\": nul\n}");
        Assert.Matches("line 3, position", malformed["errors"]!.ToJsonString());

        // The jobs dashboard's statistics, as a signed-in platform admin: a GET is refused, not a 500.
        var browser = await SignInAsync(fixture.AdminEmail, fixture.AdminPassword);
        using var stats = await browser.GetAsync("/ops/jobs/stats", Ct);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, stats.StatusCode);
        using var statsPost = await browser.PostAsync("/ops/jobs/stats", new FormUrlEncodedContent([new("metrics[]", "enqueued:count")]), Ct);
        Assert.True((int)statsPost.StatusCode < 500, $"POST /ops/jobs/stats: {(int)statsPost.StatusCode}");

        // Forms over ASP.NET Core's limits (1,024 fields; a key over 2 KiB) on every endpoint that reads a form: a 400, never a 500.
        FormUrlEncodedContent[] overLimits =
        [
            new(Enumerable.Range(0, 2000).Select(i => new KeyValuePair<string, string>($"f{i}", "x"))),
            new([new(new string('k', 3000), "x")]),
        ];
        foreach (var path in new[] { "/account/login", "/account/logout", "/ops/jobs/stats", "/connect/token", "/connect/authorize" })
        {
            foreach (var form in overLimits)
            {
                using var response = await browser.PostAsync(path, form, Ct);
                Assert.True((int)response.StatusCode < 500, $"POST {path} with a form over the limits: {(int)response.StatusCode}\n{await fixture.JobsReportAsync()}");
            }
        }
    }

    /// <summary>A cookie client signed in through the login form, as a person is.</summary>
    private async Task<HttpClient> SignInAsync(string email, string password)
    {
        var client = fixture.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var page = await client.GetStringAsync("/account/login", Ct);
        var token = AntiforgeryToken().Match(page).Groups[1].Value;
        using var response = await client.PostAsync("/account/login", new FormUrlEncodedContent(
        [
            new("_handler", "login"), new("__RequestVerificationToken", token), new("Input.Email", email), new("Input.Password", password),
        ]), Ct);
        Assert.True((int)response.StatusCode is >= 300 and < 400, $"sign-in answered {(int)response.StatusCode}");
        return client;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();

    private sealed record Ids(ApiClient Admin, ApiClient Owner, Dictionary<string, string> Real);

    /// <summary>Real objects for the paths: a team with an owner, a Ready instance with a Ready binding, a user, a backend, a group.</summary>
    private async Task<Ids> ArrangeAsync()
    {
        var root = await fixture.AdminAsync();
        var team = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(root, new CreateTeam("Hostile team", null)));
        var (owner, _) = await fixture.TeamAccountAsync(team.Id, "owner");
        var (admin, _) = await fixture.PlatformAccountAsync("hostile-admin");
        var target = await fixture.RunAsync<CreateUserHandler, UserCreated>(h => h.HandleAsync(root, new CreateUser("hostile-target@example.com", "Hostile target", false)));

        var (instanceId, ready) = await owner.RequestReadyAsync(team.Id, "postgresql", "small", "hostile-db");
        var (bindingId, _) = await owner.BindReadyAsync(instanceId, "hostile-app");
        var operationId = ready["operations"]!.AsArray()[0]!["id"]!.GetValue<string>();
        var offeringId = (await admin.GetOkAsync("/api/v1/offerings")).AsArray()[0]!["id"]!.GetValue<string>();

        var server = TestEnvironment.Backend;
        var (status, backend, _) = await admin.SendAsync(HttpMethod.Post, "/api/v1/backends",
            new { name = "hostile-backend", kind = "postgresql", host = server.Host, port = server.Port, adminUser = server.Username, adminPassword = server.Password });
        Assert.True(status == HttpStatusCode.Created, backend?.ToJsonString());
        (status, _, _) = await admin.SendAsync(HttpMethod.Put, "/api/v1/approver-groups/hostile-group", new { description = "for the test", members = Array.Empty<string>() });
        Assert.Equal(HttpStatusCode.OK, status);

        // A waiting approval request: a rule gates another team's requests, so the owner's own work stays ungated.
        var gated = await fixture.RunAsync<CreateTeamHandler, TeamSummary>(h => h.HandleAsync(root, new CreateTeam("Gated team", null)));
        var (gatedDev, _) = await fixture.TeamAccountAsync(gated.Id, "developer");
        (status, _, _) = await admin.SendAsync(HttpMethod.Put, "/api/v1/approval-policy", new object[]
        {
            new { name = "gated team waits", teamId = gated.Id, autoApprove = false, stages = new object[] { new { name = "owners", approvers = "TeamOwners", requiredApprovals = 1 } } },
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var (_, _, gatedResponse) = await gatedDev.SendAsync(HttpMethod.Post, "/api/v1/instances", new { teamId = gated.Id, offering = "postgresql", plan = "small", name = "gated-db" });
        var requestId = gatedResponse.Headers.Location!.OriginalString.Split('/')[^1];

        var notifications = (await owner.GetOkAsync("/api/v1/notifications")).AsArray();
        return new Ids(admin, owner, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["teamId"] = team.Id.ToString(),
            ["instanceId"] = instanceId.ToString(),
            ["bindingId"] = bindingId.ToString(),
            ["operationId"] = operationId,
            ["offeringId"] = offeringId,
            ["backendId"] = backend!["id"]!.GetValue<string>(),
            ["userId"] = target.User.Id.ToString(),
            ["requestId"] = requestId,
            ["notificationId"] = notifications.Count > 0 ? notifications[0]!["id"]!.GetValue<string>() : Guid.NewGuid().ToString(),
            ["name"] = "hostile-group",
            ["metric"] = "up",
        });
    }

    private static IEnumerable<Operation> OperationsOf(JsonNode document)
    {
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, op) in item!.AsObject())
            {
                if (method is "parameters" or "summary" or "description" or "servers")
                {
                    continue;
                }

                var parameters = op!["parameters"]?.AsArray().Select(p => p!).ToList() ?? [];
                yield return new Operation(
                    method.ToUpperInvariant(), path,
                    [.. parameters.Where(p => p["in"]!.GetValue<string>() == "path").Select(p => p["name"]!.GetValue<string>())],
                    [.. parameters.Where(p => p["in"]!.GetValue<string>() == "query").Select(p => p["name"]!.GetValue<string>())],
                    op["requestBody"]?["content"]?["application/json"]?["schema"]);
            }
        }
    }

    /// <summary>
    /// The hostile requests for one operation. Reads and requests with a body get hostile path values, query values and
    /// bodies around real ids; requests that change things without a body (delete, revoke, retry, sign-out-like) get
    /// hostile ids only, never a real one, and a NUL in the query string.
    /// </summary>
    private static IEnumerable<Attempt> AttemptsFor(Operation operation, JsonNode document, Ids ids)
    {
        string Url(string? hostileParameter = null, string? hostileValue = null, string? query = null)
        {
            var path = operation.Path;
            foreach (var name in operation.PathParameters)
            {
                var value = name == hostileParameter ? hostileValue! : ids.Real.GetValueOrDefault(name) ?? Guid.NewGuid().ToString();
                path = path.Replace("{" + name + "}", value, StringComparison.Ordinal);
            }

            return query is null ? path : $"{path}?{query}";
        }

        var baseBody = operation.BodySchema is null ? null : Example(operation.BodySchema, document, ids, depth: 0);
        var baseText = baseBody?.ToJsonString();
        var bodyOnly = !operation.Safe && operation.BodySchema is null;

        foreach (var name in operation.PathParameters)
        {
            foreach (var value in HostilePathValues)
            {
                yield return new Attempt(Url(name, value), baseText, $"path {name}={Shorten(value)}");
            }
        }

        if (bodyOnly)
        {
            // Without a body or a real id nothing is sent that could change anything legitimately; a NUL in the query is refused.
            var url = operation.PathParameters.Count > 0 ? Url(operation.PathParameters[0], Guid.NewGuid().ToString(), "x=%00") : Url(query: "x=%00");
            yield return new Attempt(url, null, "query x=%00");
            yield break;
        }

        foreach (var name in operation.QueryParameters)
        {
            foreach (var value in HostileQueryValues)
            {
                yield return new Attempt(Url(query: $"{name}={value}"), baseText, $"query {name}={Shorten(value)}");
            }
        }

        if (operation.Safe)
        {
            yield return new Attempt(Url(query: "junk=%00"), null, "query junk=%00");
            yield return new Attempt(Url(query: "junk%00=1"), null, "query name junk%00");
        }

        if (baseBody is null)
        {
            yield break;
        }

        // Whole-body trouble.
        yield return new Attempt(Url(), "", "empty body");
        yield return new Attempt(Url(), "{", "truncated JSON");
        yield return new Attempt(Url(), "not json", "not JSON");
        yield return new Attempt(Url(), "null", "null body");
        yield return new Attempt(Url(), baseBody is JsonArray ? "{}" : "[]", "wrong top-level type");
        yield return new Attempt(Url(), baseText, "not JSON content type", "text/plain");
        yield return new Attempt(Url(), new string(' ', 10) + "\"" + new string('x', 1024 * 1024) + "\"", "1 MB body");
        if (DuplicateFirstKey(baseText!) is { } duplicated)
        {
            yield return new Attempt(Url(), duplicated, "duplicate key");
        }

        // Field by field: every property of the body (and of an array body's first item) goes missing, gets values of the
        // wrong type, and hostile values of its own type (text for text, numbers for numbers, both inside lists and maps).
        foreach (var (field, example, replace, remove) in Fields(baseBody))
        {
            yield return new Attempt(Url(), remove(), $"{field} missing");
            var numeric = IsNumber(example) || example is JsonArray a && a.Any(IsNumber) || example is JsonObject o && o.Any(p => IsNumber(p.Value));
            foreach (var value in numeric ? [] : HostileStrings)
            {
                yield return new Attempt(Url(), replace(Wrap(example, JsonValue.Create(value))).Replace(LoneSurrogate, "\\ud800", StringComparison.Ordinal),
                    $"{field}={Shorten(value)}");
            }

            foreach (var value in WrongTypes.Concat(numeric ? HostileNumbers.Select(n => Wrap(example, n)) : []))
            {
                yield return new Attempt(Url(), replace(value?.DeepClone()), $"{field}={value?.ToJsonString() ?? "null"}");
            }

            yield return new Attempt(Url(), replace(new JsonArray(null, null)), $"{field}=[null]");
        }
    }

    private static bool IsNumber(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number;

    /// <summary>The hostile value where the example keeps its values: itself, the item of a list, the value of a map.</summary>
    private static JsonNode? Wrap(JsonNode? example, JsonNode? value) => example switch
    {
        JsonArray => new JsonArray(value?.DeepClone()),
        JsonObject o when o.ContainsKey("key") && o.Count == 1 => new JsonObject { ["key"] = value?.DeepClone() },
        _ => value?.DeepClone(),
    };

    /// <summary>Each field of the body with its example value and a way to replace the value and to leave it out, as JSON text.</summary>
    private static IEnumerable<(string Field, JsonNode? Example, Func<JsonNode?, string> Replace, Func<string> Remove)> Fields(JsonNode body)
    {
        var (target, prefix) = body is JsonArray { Count: > 0 } array && array[0] is JsonObject first ? (first, "[0].") : (body as JsonObject, "");
        if (target is null)
        {
            yield break;
        }

        foreach (var (name, example) in target.ToList())
        {
            yield return ($"{prefix}{name}", example,
                value =>
                {
                    var copy = body.DeepClone();
                    Target(copy)[name] = value;
                    return copy.ToJsonString();
                },
                () =>
                {
                    var copy = body.DeepClone();
                    Target(copy).Remove(name);
                    return copy.ToJsonString();
                });
        }

        JsonObject Target(JsonNode copy) => copy is JsonArray a ? a[0]!.AsObject() : copy.AsObject();
    }

    private static string? DuplicateFirstKey(string json)
    {
        var match = FirstProperty().Match(json);
        return match.Success ? json.Insert(match.Index + 1, match.Value[1..] + ",") : null;
    }

    [GeneratedRegex("""[{]"[^"]+":("[^"]*"|[^,{}\[\]]+)""")]
    private static partial Regex FirstProperty();

    /// <summary>A plausible body from the schema: real ids for id fields, plain words for text, 1 for numbers.</summary>
    private static JsonNode? Example(JsonNode schema, JsonNode document, Ids ids, int depth)
    {
        if (schema["$ref"]?.GetValue<string>() is { } reference)
        {
            schema = document["components"]!["schemas"]![reference.Split('/')[^1]]!;
        }

        if (depth > 4)
        {
            return null;
        }

        if (schema["enum"] is JsonArray names && names.Count > 0)
        {
            return names.FirstOrDefault(v => v is not null)?.DeepClone();
        }

        if ((schema["oneOf"] ?? schema["anyOf"]) is JsonArray choices)
        {
            var choice = choices.FirstOrDefault(c => c?["type"]?.ToString() != "null");
            return choice is null ? null : Example(choice, document, ids, depth + 1);
        }

        var type = schema["type"] switch
        {
            JsonArray types => types.Select(t => t!.GetValue<string>()).FirstOrDefault(t => t != "null"),
            JsonValue single => single.GetValue<string>(),
            _ => schema["properties"] is not null ? "object" : null,
        };
        return type switch
        {
            "object" when schema["properties"] is JsonObject properties => new JsonObject(properties.Select(p =>
                KeyValuePair.Create(p.Key, p.Key.EndsWith("Id", StringComparison.Ordinal) && ids.Real.TryGetValue(p.Key, out var id)
                    ? JsonValue.Create(id)
                    : Example(p.Value!, document, ids, depth + 1)))),
            "object" => schema["additionalProperties"] is JsonObject values
                ? new JsonObject { ["key"] = Example(values, document, ids, depth + 1) }
                : new JsonObject(),
            "array" => schema["items"] is { } items ? new JsonArray(Example(items, document, ids, depth + 1)) : new JsonArray(),
            "string" => schema["format"]?.GetValue<string>() switch
            {
                "uuid" => JsonValue.Create(Guid.NewGuid().ToString()),
                "date-time" => JsonValue.Create(DateTimeOffset.UtcNow.AddDays(1).ToString("O")),
                _ => JsonValue.Create("probe-value"),
            },
            "integer" or "number" => JsonValue.Create(1),
            "boolean" => JsonValue.Create(false),
            _ => JsonValue.Create("probe-value"),
        };
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : $"{text[..40]}… ({text.Length} chars)";

    // --- Snapshots: what a refused request must not change -----------------------------------------------------------

    private static readonly string[] Tables =
    [
        "Teams", "TeamMembers", "TeamQuotas", "AspNetUsers", "AspNetUserRoles", "OpenIddictApplications", "Offerings", "Plans", "Backends",
        "Instances", "Bindings", "Operations", "ApprovalRules", "ApproverGroups", "ApprovalRequests", "ApprovalDecisions", "Webhooks",
        "Notifications", "PlatformCa", "AuditEvents",
    ];

    /// <summary>
    /// Records every committed insert, update and delete of the tables the API writes to: a row trigger adds a line to a
    /// table of the test's own, so a snapshot is one small query and a rolled-back write leaves nothing.
    /// </summary>
    private async Task WatchWritesAsync()
    {
        await using var db = new NpgsqlConnection(fixture.ConnectionString);
        await db.OpenAsync(Ct);
        var sql = new StringBuilder("""
            CREATE TABLE hostile_writes (tbl text NOT NULL);
            CREATE FUNCTION hostile_write() RETURNS trigger LANGUAGE plpgsql AS
              $$ BEGIN INSERT INTO hostile_writes VALUES (TG_TABLE_NAME); RETURN NULL; END $$;
            """);
        foreach (var table in Tables)
        {
            sql.Append(CultureInfo.InvariantCulture, $"CREATE TRIGGER hostile_write AFTER INSERT OR UPDATE OR DELETE ON \"{table}\" FOR EACH ROW EXECUTE FUNCTION hostile_write();\n");
        }

        await using var command = new NpgsqlCommand(sql.ToString(), db);
        await command.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>How many committed writes each watched table has had.</summary>
    private async Task<string> SnapshotAsync()
    {
        await using var db = new NpgsqlConnection(fixture.ConnectionString);
        await db.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT tbl || ' ' || count(*) FROM hostile_writes GROUP BY tbl ORDER BY tbl", db);
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            lines.Add(reader.GetString(0));
        }

        return string.Join('\n', lines);
    }

    /// <summary>Waits until no operation is unfinished (an accepted change hands its work to a job), then takes a snapshot.</summary>
    private async Task<string> QuietSnapshotAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await UnfinishedOperationsAsync())
        {
            Assert.True(DateTime.UtcNow < deadline, "the portal did not settle after an accepted request");
            await Task.Delay(100, Ct);
        }

        return await SnapshotAsync();
    }

    private async Task<bool> UnfinishedOperationsAsync()
    {
        await using var db = new NpgsqlConnection(fixture.ConnectionString);
        await db.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM \"Operations\" WHERE \"FinishedAt\" IS NULL", db);
        return (long)(await command.ExecuteScalarAsync(Ct))! > 0;
    }

    private static string Difference(string before, string after) =>
        string.Join(", ", after.Split('\n').Except(before.Split('\n')).Select(l => l.Split(' ')[0]));
}
