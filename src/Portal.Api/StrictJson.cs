using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace Portal.Api;

/// <summary>
/// How the API reads JSON bodies: a field that is neither nullable nor has a default must be present (never a silent
/// 0 or false), a property given twice is refused rather than the last one winning, numbers as numbers and enums only
/// by name. A body that
/// does not read becomes a 400 naming the field and saying where (line and position) it went wrong.
/// </summary>
public static partial class StrictJson
{
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        // Enums travel by name ("TeamOwners", "Create"), as they are stored; numbers (0, -1) are not names.
        options.Converters.Add(new JsonStringEnumConverter(namingPolicy: null, allowIntegerValues: false));
        options.AllowDuplicateProperties = false;
        // A number is a JSON number: "1" is text (the web defaults would read it as 1).
        options.NumberHandling = JsonNumberHandling.Strict;
        options.TypeInfoResolver = (options.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver()).WithAddedModifier(RequireNonOptionalFields);
        return options;
    }

    /// <summary>Constructor parameters that are not nullable and have no default value are required.</summary>
    private static void RequireNonOptionalFields(JsonTypeInfo type)
    {
        foreach (var property in type.Properties)
        {
            if (property.AssociatedParameter is { HasDefaultValue: false, IsNullable: false })
            {
                property.IsRequired = true;
            }
        }
    }

    /// <summary>Problem Details for a body that could not be read, or null when the failure was not the JSON's.</summary>
    internal static Microsoft.AspNetCore.Mvc.ProblemDetails? ProblemFor(BadHttpRequestException exception)
    {
        if (exception.InnerException is not JsonException json)
        {
            return null;
        }

        // A list body's items are named after its parameter, as the input rules name them: rules[0].name.
        var list = json.Path?.StartsWith("$[", StringComparison.Ordinal) == true && ParameterName().Match(exception.Message) is { Success: true } p
            ? p.Groups[1].Value
            : "";
        var field = json.Path is null or "$" ? "body" : list + json.Path.TrimStart('$').TrimStart('.');
        var where = json.LineNumber is { } line
            ? $" (line {line + 1}, position {json.BytePositionInLine.GetValueOrDefault() + 1})"
            : "";
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var message = json.Message;
        if (MissingFields().Match(message) is { Success: true } missing)
        {
            foreach (Match name in QuotedName().Matches(missing.Groups[1].Value))
            {
                errors[field == "body" ? name.Groups[1].Value : $"{field}.{name.Groups[1].Value}"] = ["Required."];
            }
        }
        else
        {
            errors[field] = [Explain(message) + where];
        }

        return new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request is not valid",
            Detail = $"The JSON body cannot be read at {field}{where}.",
        };
    }

    /// <summary>The reader's own words without the .NET type names and position suffix it adds.</summary>
    private static string Explain(string message)
    {
        if (message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
        {
            return "The value has the wrong type or format.";
        }

        if (message.Contains("Duplicate", StringComparison.OrdinalIgnoreCase))
        {
            return "The property is given more than once.";
        }

        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        var text = cut >= 0 ? message[..cut] : message;
        return TypeName().Replace(text, "the expected type").Trim();
    }

    // ASP.NET Core's words: Failed to read parameter "ApprovalRuleView[] rules" from the request body as JSON.
    [GeneratedRegex("parameter \"[^\" ]+ ([^\" ]+)\"")]
    private static partial Regex ParameterName();

    [GeneratedRegex("missing required properties including: (.*)$", RegexOptions.Singleline)]
    private static partial Regex MissingFields();

    [GeneratedRegex("'([^']+)'")]
    private static partial Regex QuotedName();

    [GeneratedRegex(@"'?(System|Portal)\.[\w.`\[\], ]+'?")]
    private static partial Regex TypeName();
}
