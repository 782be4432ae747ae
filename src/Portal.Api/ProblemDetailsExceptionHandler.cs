using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Portal.Application.Common;
using Portal.Domain.Instances;

namespace Portal.Api;

/// <summary>
/// Turns the application's refusals into RFC 9457 Problem Details. Anything else stays a 500 whose
/// body says nothing about the inside.
/// </summary>
internal sealed partial class ProblemDetailsExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        ProblemDetails? details = exception switch
        {
            ValidationException v => new HttpValidationProblemDetails(v.Errors.ToDictionary(e => e.Key, e => e.Value))
            {
                Status = v.StatusCode, Title = v.Title, Detail = v.Message,
            },
            Application.Quotas.QuotaExceededException q => new ProblemDetails
            {
                Status = q.StatusCode,
                Title = q.Title,
                Detail = q.Message,
                Extensions = { ["quota"] = q.Breach.Quota, ["limit"] = q.Breach.Limit, ["used"] = q.Breach.Used },
            },
            PortalException p => new ProblemDetails { Status = p.StatusCode, Title = p.Title, Detail = p.Message },
            InvalidStateTransitionException t => new ProblemDetails { Status = 409, Title = "Conflict", Detail = t.Message },
            BadHttpRequestException b => StrictJson.ProblemFor(b) ?? BindingProblem(b),
            // The form reader's limits (field count, key and value length) throw this wherever a form is read; antiforgery
            // wraps it when it reads the form for its token.
            InvalidDataException or AntiforgeryValidationException { InnerException: InvalidDataException } when http.Request.HasFormContentType =>
                new ProblemDetails
                {
                    Status = StatusCodes.Status400BadRequest, Title = "Bad request",
                    Detail = $"The form cannot be read: {(exception.InnerException ?? exception).Message}",
                },
            _ => null,
        };
        if (details is null)
        {
            return false;
        }

        http.Response.StatusCode = details.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = details, Exception = exception });
    }

    /// <summary>A query or route value that does not bind, e.g. <c>page=abc</c>: named when the message names it.</summary>
    private static ProblemDetails BindingProblem(BadHttpRequestException b) =>
        BoundParameter().Match(b.Message) is { Success: true } m
            ? new HttpValidationProblemDetails(new Dictionary<string, string[]> { [m.Groups[1].Value] = ["The value has the wrong type or format."] })
            {
                Status = b.StatusCode, Title = "The request is not valid", Detail = $"The value of {m.Groups[1].Value} cannot be read.",
            }
            : new ProblemDetails { Status = b.StatusCode, Title = "Bad request", Detail = b.Message };

    // ASP.NET Core's words: Failed to bind parameter "int page" from "abc". / Required parameter "string metric" was not provided from …
    [System.Text.RegularExpressions.GeneratedRegex("parameter \"[^\" ]+ ([^\" ]+)\"")]
    private static partial System.Text.RegularExpressions.Regex BoundParameter();
}
