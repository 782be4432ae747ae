using Portal.Api;
using Portal.Api.Auth;
using Portal.Application;
using Portal.Data;
using Portal.Hosting;
using Portal.Hosting.Telemetry;
using Portal.Web;
using Portal.Web.Security;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddPortalSettings();

builder.AddPortalData();
builder.AddPortalIdentity();
builder.AddPortalApplication();
builder.AddPortalJobs();
// Workers run in the web process unless Jobs:RunServer=false (then run src/Portal.Worker apart).
// Read here on purpose: it decides which services exist, and tests keep the default.
if (builder.Configuration.GetValue("Jobs:RunServer", true))
{
    builder.AddPortalWorkers();
}

builder.AddPortalLiveStatus();
builder.AddPortalApi();
builder.AddPortalWeb();
builder.AddPortalHealthAndTelemetry();
builder.AddPortalHttps();

var app = builder.Build();

// First: forwarded headers from known proxies only, then HTTPS redirection and HSTS, before anything reads the request.
app.UsePortalHttps();
app.UsePortalWeb();
app.MapPortalAuth();
app.MapPortalApi();
app.MapPortalApiReference();
app.MapPortalJobsDashboard();
app.MapPortalHealthAndTelemetry();
app.MapPortalPages();

app.Run();

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
