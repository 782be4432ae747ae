using Portal.Application;
using Portal.Data;
using Portal.Hosting;
using Portal.Hosting.Telemetry;

// Works the job queues named in Jobs:Queues (default: "default"). Run as many as needed; the web host
// can then set Jobs:RunServer=false. A small HTTP listener serves /healthz/live, /healthz/ready and /metrics only,
// on Urls (ASPNETCORE_URLS), by default http://localhost:5090; give each worker on one machine its own port.
var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddPortalSettings();
builder.WebHost.UseUrls(builder.Configuration["Urls"] is { Length: > 0 } urls ? urls : "http://localhost:5090");
builder.AddPortalData();
builder.Services.AddPortalAccounts();
builder.AddPortalApplication();
builder.AddPortalJobs();
builder.AddPortalWorkers();
builder.AddPortalHealthAndTelemetry();

var app = builder.Build();
app.MapPortalHealthAndTelemetry();
app.Run();
