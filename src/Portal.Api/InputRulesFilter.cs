using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Portal.Application.Common;

namespace Portal.Api;

/// <summary>
/// Applies <see cref="InputRules"/> at the API edge before any handler runs: every query-string value and
/// string route value, and the JSON body walked field by field. A refusal is a 400 naming each field.
/// </summary>
internal static class InputRulesFilter
{
    public static EndpointFilterDelegate Create(EndpointFilterFactoryContext context, EndpointFilterDelegate next)
    {
        // The body is what minimal APIs infer it to be: the one complex parameter that is not a service.
        var services = context.ApplicationServices.GetRequiredService<IServiceProviderIsService>();
        var body = context.MethodInfo.GetParameters().FirstOrDefault(p => IsBody(p, services));
        var bodyPrefix = body is null || !IsList(body) ? "" : body.Name ?? "";

        return invocation =>
        {
            var v = new Validator();
            var http = invocation.HttpContext;
            foreach (var (name, values) in http.Request.Query)
            {
                v.Text(name, "query", InputRules.NameLength);
                foreach (var value in values)
                {
                    v.Text(value, name, InputRules.UrlLength);
                }
            }

            foreach (var (name, value) in http.Request.RouteValues)
            {
                v.Text(value as string, name, InputRules.UrlLength);
            }

            if (body is not null)
            {
                v.Input(invocation.Arguments[body.Position], bodyPrefix);
            }

            v.ThrowIfInvalid();
            return next(invocation);
        };
    }

    private static bool IsBody(ParameterInfo parameter, IServiceProviderIsService services)
    {
        var type = Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType;
        return !type.IsPrimitive && !type.IsEnum
            && type != typeof(string) && type != typeof(Guid) && type != typeof(decimal) && type != typeof(DateTimeOffset) && type != typeof(DateTime)
            && type != typeof(HttpContext) && type != typeof(CancellationToken)
            && parameter.GetCustomAttribute<AsParametersAttribute>() is null
            && !services.IsService(type);
    }

    private static bool IsList(ParameterInfo parameter) =>
        parameter.ParameterType != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(parameter.ParameterType);
}
