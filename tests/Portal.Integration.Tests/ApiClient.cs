using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Portal.Integration.Tests;

/// <summary>Calls the REST API as a service account, with a bearer token from the OIDC token endpoint.</summary>
internal sealed class ApiClient(HttpClient http)
{
    public HttpClient Http { get; } = http;

    public static async Task<ApiClient> SignInAsync(HttpClient http, string clientId, string clientSecret)
    {
        var response = await http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_secret"] = clientSecret,
        }));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"token request failed: {(int)response.StatusCode} {body}");
        var token = JsonNode.Parse(body)!["access_token"]!.GetValue<string>();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new ApiClient(http);
    }

    public async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, object? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null, response);
    }

    public async Task<JsonNode> GetOkAsync(string url)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Get, url);
        Assert.True(status == HttpStatusCode.OK, $"GET {url}: {(int)status} {body?.ToJsonString()}");
        return body!;
    }

    /// <summary>Polls until the condition holds; the job server in the test host does the work meanwhile.</summary>
    public async Task<JsonNode> WaitForAsync(string url, Func<JsonNode, bool> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        JsonNode last;
        do
        {
            last = await GetOkAsync(url);
            if (condition(last))
            {
                return last;
            }

            await Task.Delay(250);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"Timed out after {seconds} s waiting for {what}; last: {last.ToJsonString(new JsonSerializerOptions { WriteIndented = true })}");
        return last;
    }

    /// <summary>Polls a condition that is not an API call (a job's state, a database row) until it holds.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {seconds} s waiting for {what}");
            await Task.Delay(250);
        }
    }
}
