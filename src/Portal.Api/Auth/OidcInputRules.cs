using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portal.Application.Common;

namespace Portal.Api.Auth;

/// <summary>
/// The OIDC endpoints (<c>/connect/…</c>) are answered by OpenIddict before any endpoint filter runs, so the API's input
/// rules never see them: a NUL in a client id reached PostgreSQL and answered 500. This applies the same text rules to
/// their query and form values first, answering as OAuth does (400 <c>invalid_request</c>).
/// </summary>
public static class OidcInputRules
{
    /// <summary>Longer than any client id, secret, scope list or redirect URI Portal issues or accepts.</summary>
    private const int MaxValueLength = 4000;

    public static IApplicationBuilder UseOidcInputRules(this IApplicationBuilder app) =>
        app.UseWhen(http => http.Request.Path.StartsWithSegments("/connect"), branch => branch.Use(async (http, next) =>
        {
            var values = http.Request.Query.SelectMany(q => q.Value.Select(v => (q.Key, Value: v ?? "")));
            if (http.Request.HasFormContentType)
            {
                try
                {
                    var form = await http.Request.ReadFormAsync(http.RequestAborted);
                    values = values.Concat(form.SelectMany(f => f.Value.Select(v => (f.Key, Value: v ?? ""))));
                }
                catch (InvalidDataException e)
                {
                    // ASP.NET Core's form reader refuses a NUL (and an oversize form) by throwing.
                    await RefuseAsync(http, $"The form is refused: {e.Message}");
                    return;
                }
            }

            foreach (var (name, value) in values)
            {
                if ((InputRules.TextProblem(name) ?? InputRules.TextProblem(value, MaxValueLength)) is { } problem)
                {
                    await RefuseAsync(http, $"The parameter {InputRules.Recordable(name, 100)} is refused: {problem}");
                    return;
                }
            }

            await next(http);
        }));

    private static async Task RefuseAsync(HttpContext http, string description)
    {
        http.Response.StatusCode = StatusCodes.Status400BadRequest;
        await http.Response.WriteAsJsonAsync(
            new Dictionary<string, string> { ["error"] = "invalid_request", ["error_description"] = description }, http.RequestAborted);
    }
}
