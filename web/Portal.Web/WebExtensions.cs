using Hangfire;
using Hangfire.Dashboard;
using MudBlazor.Services;
using Portal.Api.Auth;
using Portal.Api.V1;
using Portal.Web.Components;
using Portal.Web.Security;
using Portal.Web.Services;
using Scalar.AspNetCore;

namespace Portal.Web;

public static class WebExtensions
{
    /// <summary>Blazor (interactive server) with MudBlazor, and the page-side services.</summary>
    public static WebApplicationBuilder AddPortalWeb(this WebApplicationBuilder builder)
    {
        // Serve package assets (MudBlazor, blazor.web.js) from the build output in every environment, as
        // `ops/portal up` runs it; a published app has them in wwwroot and this finds no manifest.
        builder.WebHost.UseStaticWebAssets();
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<Microsoft.AspNetCore.Components.Authorization.AuthenticationStateProvider, SessionRevalidation>();
        builder.Services.AddMudServices();
        builder.Services.AddScoped<CurrentActor>();
        builder.Services.AddHttpContextAccessor();
        return builder;
    }

    public static WebApplication UsePortalWeb(this WebApplication app)
    {
        app.UsePortalSecurityHeaders();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // Before authentication: OpenIddict answers a token request with a wrong client secret while authenticating,
        // so a limiter placed later would never count those.
        app.UseRateLimiter();
        app.UseOidcInputRules();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        return app;
    }

    /// <summary>The OpenAPI document at /openapi/v1.json and the interactive reference at /scalar/v1.</summary>
    public static WebApplication MapPortalApiReference(this WebApplication app)
    {
        app.MapOpenApi().AllowAnonymous();
        app.MapScalarApiReference(o => o
                .WithTitle("Portal API")
                .AddPreferredSecuritySchemes("oauth2")
                .AddClientCredentialsFlow("oauth2", flow => flow.WithSelectedScopes(Portal.Application.Access.PortalScopes.Api)))
            .AllowAnonymous();
        return app;
    }

    /// <summary>The Hangfire dashboard, for platform admins only.</summary>
    public static WebApplication MapPortalJobsDashboard(this WebApplication app)
    {
        // Hangfire's stats route reads a posted form whatever the request is, and threw (500) on anything else. Runs after
        // the authorization middleware, so only platform admins learn this.
        app.UseWhen(c => c.Request.Path.Equals("/ops/jobs/stats", StringComparison.OrdinalIgnoreCase)
                         && !(HttpMethods.IsPost(c.Request.Method) && c.Request.HasFormContentType),
            refuse => refuse.Run(c =>
            {
                var post = HttpMethods.IsPost(c.Request.Method);
                if (!post)
                {
                    c.Response.Headers.Allow = HttpMethods.Post;
                }

                return Results.Problem(statusCode: post ? StatusCodes.Status415UnsupportedMediaType : StatusCodes.Status405MethodNotAllowed,
                    detail: "The dashboard's statistics are read with a form POST.").ExecuteAsync(c);
            }));
        // The endpoint policy decides; Hangfire's own default filter would allow local requests only.
        app.MapHangfireDashboard("/ops/jobs", new DashboardOptions { Authorization = [], AppPath = "/", DashboardTitle = "Portal jobs" })
            .RequireAuthorization(AuthExtensions.PlatformAdminPolicy);
        return app;
    }

    public static WebApplication MapPortalPages(this WebApplication app)
    {
        app.MapAuditDownload();
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
