using Portal.Application;
using Portal.Data;
using Portal.Hosting;

// Works the job queues named in Jobs:Queues (default: "default"). Run as many as needed; the web host
// can then set Jobs:RunServer=false.
var builder = Host.CreateApplicationBuilder(args);
builder.Configuration.AddPortalSettings();
builder.AddPortalData();
builder.Services.AddPortalAccounts();
builder.AddPortalApplication();
builder.AddPortalJobs();
builder.AddPortalWorkers();

builder.Build().Run();
