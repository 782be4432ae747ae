using Portal.Api;
using Portal.Api.Auth;
using Portal.Application;
using Portal.Data;
using Portal.Hosting;
using Portal.Hosting.Telemetry;
using Portal.Web;

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

var app = builder.Build();

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
