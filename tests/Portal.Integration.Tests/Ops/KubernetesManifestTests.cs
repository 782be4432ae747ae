using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Portal.Testing;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Portal.Integration.Tests.Ops;

/// <summary>
/// The manifests of ops/deploy/kubernetes, checked against the application since no cluster is at hand: every file
/// parses, every setting is one the hosts read, every command runs a host's assembly from the image the Dockerfile
/// builds, the Service, Ingress and disruption budgets select the pods they mean, and the probes ask real endpoints.
/// </summary>
public sealed partial class KubernetesManifestTests
{
    internal static readonly string Folder = Path.Combine(OpsScripts.RepositoryRoot, "ops", "deploy", "kubernetes");

    /// <summary>Every YAML document of the folder, as JSON, with the file it came from.</summary>
    internal static readonly Lazy<IReadOnlyList<(string File, JsonObject Document)>> Documents = new(Load);

    internal static IEnumerable<JsonObject> OfKind(string kind) =>
        Documents.Value.Select(d => d.Document).Where(d => (string?)d["kind"] == kind);

    /// <summary>The pods' workloads by component label: web, worker, migrator.</summary>
    internal static IEnumerable<(string Host, JsonObject Workload, JsonObject Container)> Workloads() =>
        OfKind("Deployment").Concat(OfKind("Job")).Select(w =>
        {
            var host = (string)w["spec"]!["template"]!["metadata"]!["labels"]!["app.kubernetes.io/component"]!;
            var containers = w["spec"]!["template"]!["spec"]!["containers"]!.AsArray();
            Assert.True(containers.Count == 1, $"{Name(w)}: one container per pod, the host");
            return (host, w, containers[0]!.AsObject());
        });

    internal static string Name(JsonObject document) => $"{document["kind"]}/{document["metadata"]?["name"]}";

    internal static Dictionary<string, string?> Env(JsonObject container) =>
        (container["env"]?.AsArray() ?? []).ToDictionary(e => (string)e!["name"]!, e => (string?)e!["value"]);

    [Fact]
    public void Manifests_ParseAndAreAllListedInTheKustomization()
    {
        var files = Directory.GetFiles(Folder, "*.yaml").Select(Path.GetFileName).Order().ToList();
        Assert.True(files.Count >= 8, string.Join(", ", files));
        var kustomization = Documents.Value.Single(d => d.File == "kustomization.yaml").Document;
        var listed = kustomization["resources"]!.AsArray().Select(r => (string)r!).Order().ToList();
        Assert.Equal(files.Where(f => f != "kustomization.yaml"), listed);
        foreach (var (file, document) in Documents.Value.Where(d => d.File != "kustomization.yaml"))
        {
            Assert.True(document["apiVersion"] is not null && document["kind"] is not null && document["metadata"]?["name"] is not null,
                $"{file}: a document without apiVersion, kind or metadata.name");
        }

        var kinds = Documents.Value.Select(d => (string?)d.Document["kind"]).ToHashSet();
        foreach (var kind in new[] { "Deployment", "Job", "Service", "Ingress", "PodDisruptionBudget", "ConfigMap" })
        {
            Assert.Contains(kind, kinds);
        }
    }

    [Fact]
    public void Containers_RunTheHostsAssemblies_FromTheImageTheDockerfileBuilds()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Folder, "Dockerfile"));
        var published = PublishLine().Matches(dockerfile).ToDictionary(m => m.Groups["host"].Value, m => m.Groups["project"].Value);
        var image = (string)Documents.Value.Single(d => d.File == "kustomization.yaml").Document["images"]![0]!["name"]!;

        var hosts = Workloads().ToList();
        Assert.Equal(["migrator", "web", "worker"], hosts.Select(h => h.Host).Distinct().Order());
        foreach (var (host, workload, container) in hosts)
        {
            var assembly = HostAssemblies.Names[host];
            Assert.Equal(["dotnet", $"/app/{host}/{assembly}.dll"], container["command"]!.AsArray().Select(c => (string)c!));
            Assert.Equal(image, (string)container["image"]!);
            Assert.True(published.TryGetValue(host, out var project), $"{Name(workload)}: the Dockerfile publishes nothing to /app/{host}");
            Assert.True(File.Exists(Path.Combine(OpsScripts.RepositoryRoot, project)), $"the Dockerfile publishes {project}, which does not exist");
            Assert.Equal(assembly, Path.GetFileNameWithoutExtension(project));
        }

        Assert.Equal("OnFailure", (string)OfKind("Job").Single()["spec"]!["template"]!["spec"]!["restartPolicy"]!);
    }

    [Fact]
    public void Settings_AreOnesTheAppReads_AndSecretsComeFromSecrets()
    {
        var configMaps = OfKind("ConfigMap").ToDictionary(c => (string)c["metadata"]!["name"]!);
        var names = configMaps.Values.SelectMany(c => c["data"]!.AsObject().Select(p => p.Key)).ToList();
        foreach (var (host, workload, container) in Workloads())
        {
            var env = Env(container);
            names.AddRange(env.Keys);
            foreach (var reference in container["envFrom"]?.AsArray() ?? [])
            {
                var map = (string)reference!["configMapRef"]!["name"]!;
                Assert.True(configMaps.ContainsKey(map), $"{Name(workload)} reads ConfigMap {map}, which no manifest defines");
            }

            // Secrets never as plain values: from a Secret, the key ring certificate as a mounted file.
            foreach (var secret in new[] { "ConnectionStrings__Portal", "DataProtection__CertificatePassword" })
            {
                var entry = container["env"]!.AsArray().SingleOrDefault(e => (string)e!["name"]! == secret);
                Assert.True(entry?["valueFrom"]?["secretKeyRef"] is not null, $"{Name(workload)}: {secret} must come from a Secret");
            }

            var certificatePath = (string)configMaps["portal-settings"]["data"]!["DataProtection__CertificatePath"]!;
            var mount = container["volumeMounts"]!.AsArray().Single(m => certificatePath.StartsWith((string)m!["mountPath"]! + "/", StringComparison.Ordinal))!;
            var volume = workload["spec"]!["template"]!["spec"]!["volumes"]!.AsArray().Single(v => (string)v!["name"]! == (string)mount["name"]!)!;
            Assert.Contains(Path.GetFileName(certificatePath), volume["secret"]!["items"]!.AsArray().Select(i => (string)i!["path"]!));

            Assert.Equal("Production", (string)configMaps["portal-settings"]["data"]!["ASPNETCORE_ENVIRONMENT"]!);
            if (host == "web")
            {
                Assert.Equal("false", env["Jobs__RunServer"]);
            }
            else if (host == "worker")
            {
                Assert.False(string.IsNullOrEmpty(env["Jobs__Queues__0"]), $"{Name(workload)} names no queue");
            }
        }

        // The Secrets an operator creates are named in docs/operations.md, with how to make them.
        var docs = File.ReadAllText(Path.Combine(OpsScripts.RepositoryRoot, "docs", "operations.md"));
        var secrets = Documents.Value.SelectMany(d => SecretName().Matches(d.Document.ToJsonString()).Select(m => m.Groups["name"].Value)).Distinct().ToList();
        Assert.Contains("portal-keyring", secrets);
        Assert.All(secrets, s => Assert.Contains(s, docs, StringComparison.Ordinal));

        var unknown = AppConfigurationKeys.Unknown(names.Distinct());
        Assert.True(unknown.Count == 0, $"ops/deploy/kubernetes sets settings no Portal host reads: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void ServiceIngressAndBudgets_SelectTheirPods_WithStickySessions()
    {
        var web = Workloads().Single(w => w.Host == "web");
        var service = OfKind("Service").Single();
        Assert.True(Selects(service["spec"]!["selector"]!.AsObject(), web.Workload), "the Service does not select the web pods");
        Assert.Equal("ClientIP", (string)service["spec"]!["sessionAffinity"]!);
        var targetPort = (string)service["spec"]!["ports"]![0]!["targetPort"]!;
        Assert.Contains(targetPort, web.Container["ports"]!.AsArray().Select(p => (string)p!["name"]!));

        var ingress = OfKind("Ingress").Single();
        Assert.Equal("cookie", (string)ingress["metadata"]!["annotations"]!["nginx.ingress.kubernetes.io/affinity"]!);
        var backend = ingress["spec"]!["rules"]![0]!["http"]!["paths"]![0]!["backend"]!["service"]!;
        Assert.Equal((string)service["metadata"]!["name"]!, (string)backend["name"]!);
        Assert.Equal((string)service["spec"]!["ports"]![0]!["name"]!, (string)backend["port"]!["name"]!);

        foreach (var budget in OfKind("PodDisruptionBudget"))
        {
            var selector = budget["spec"]!["selector"]!["matchLabels"]!.AsObject();
            Assert.True(OfKind("Deployment").Any(d => Selects(selector, d)), $"{Name(budget)} selects no Deployment's pods");
        }

        foreach (var deployment in OfKind("Deployment"))
        {
            Assert.True(Selects(deployment["spec"]!["selector"]!["matchLabels"]!.AsObject(), deployment), $"{Name(deployment)}: its selector misses its pods");
        }
    }

    [Fact]
    public void Probes_AskTheContainersOwnPort()
    {
        foreach (var (host, workload, container) in Workloads().Where(w => w.Host != "migrator"))
        {
            var port = (string)container["ports"]![0]!["containerPort"]!;
            Assert.EndsWith($":{port}", Env(container)["ASPNETCORE_URLS"]);
            foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
            {
                var get = container[probe]?["httpGet"];
                Assert.True(get is not null, $"{Name(workload)} has no HTTP {probe}");
                Assert.Equal(port, (string)get["port"]!);
            }
        }
    }

    /// <summary>The probe paths of the manifests, by host: what <see cref="KubernetesProbeTests"/> asks the real hosts.</summary>
    internal static IEnumerable<(string Host, string Probe, string Path)> Probes() =>
        Workloads().Where(w => w.Host != "migrator").SelectMany(w => new[] { "readinessProbe", "livenessProbe" }
            .Select(p => (w.Host, p, (string)w.Container[p]!["httpGet"]!["path"]!)));

    private static bool Selects(JsonObject selector, JsonObject workload)
    {
        var labels = workload["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        return selector.All(s => (string?)labels[s.Key] == (string?)s.Value);
    }

    private static IReadOnlyList<(string, JsonObject)> Load()
    {
        var deserializer = new DeserializerBuilder().Build();
        var documents = new List<(string, JsonObject)>();
        foreach (var file in Directory.GetFiles(Folder, "*.yaml").Order())
        {
            var parser = new Parser(new StringReader(File.ReadAllText(file)));
            parser.Consume<StreamStart>();
            while (parser.Accept<DocumentStart>(out _))
            {
                var document = deserializer.Deserialize<object>(parser);
                Assert.True(ToJson(document) is JsonObject, $"{file}: a document that is not a mapping");
                documents.Add((Path.GetFileName(file), (JsonObject)ToJson(document)!));
            }
        }

        return documents;
    }

    private static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        IDictionary<object, object> map => new JsonObject(map.Select(p => KeyValuePair.Create(p.Key.ToString()!, ToJson(p.Value)))),
        IList<object> list => new JsonArray(list.Select(ToJson).ToArray()),
        _ => JsonValue.Create(value.ToString()),
    };

    [GeneratedRegex(@"dotnet publish (?<project>\S+\.csproj)[^\n]*?-o /app/(?<host>\w+)")]
    private static partial Regex PublishLine();

    [GeneratedRegex("\"secretName\":\"(?<name>[^\"]+)\"|\"secretKeyRef\":\\{\"name\":\"(?<name>[^\"]+)\"")]
    private static partial Regex SecretName();
}

/// <summary>The manifests' probe paths asked of the real hosts: the web host in process, the worker host as a process.</summary>
public sealed class KubernetesProbeTests(KubernetesProbeTests.Fixture fixture) : IClassFixture<KubernetesProbeTests.Fixture>
{
    public sealed class Fixture : PortalAppFactory;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task WebProbes_AnswerOkFromTheWebHost()
    {
        var client = fixture.CreateClient();
        foreach (var (_, probe, path) in KubernetesManifestTests.Probes().Where(p => p.Host == "web"))
        {
            var response = await client.GetAsync(path, Ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK,
                $"the web {probe} asks {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
        }
    }

    [Fact]
    public async Task WorkerProbes_AnswerOkFromAWorkerProcess()
    {
        // Started as the manifest starts it: the listener address from ASPNETCORE_URLS.
        var address = $"http://127.0.0.1:{FreePort()}";
        var start = new ProcessStartInfo("dotnet", [WorkerProcess.WorkerAssembly])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(WorkerProcess.WorkerAssembly)!,
        };
        start.Environment["DOTNET_ENVIRONMENT"] = "Development";
        start.Environment["ASPNETCORE_URLS"] = address;
        start.Environment["ConnectionStrings__Portal"] = fixture.ConnectionString;
        start.Environment["Auth__Issuer"] = PortalAppFactory.TestIssuer;
        start.Environment["Ca__CertificateFile"] = Path.Combine(TestEnvironment.CaDirectory, "ca.crt");
        start.Environment["Ca__KeyFile"] = Path.Combine(TestEnvironment.CaDirectory, "ca.key");
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        using var worker = Process.Start(start)!;
        var output = new ConcurrentQueue<string>();
        worker.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        worker.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        worker.BeginOutputReadLine();
        worker.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(10) };
            foreach (var (_, probe, path) in KubernetesManifestTests.Probes().Where(p => p.Host == "worker"))
            {
                var response = await GetOnceListeningAsync(client, path, worker, () => string.Join('\n', output.TakeLast(40)));
                Assert.True(response.StatusCode == HttpStatusCode.OK,
                    $"the worker {probe} asks {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
            }
        }
        finally
        {
            worker.Kill(entireProcessTree: true);
            await worker.WaitForExitAsync(Ct);
        }
    }

    /// <summary>GET, once the process listens (it starts in a few seconds); fails when it exits or never listens.</summary>
    private static async Task<HttpResponseMessage> GetOnceListeningAsync(HttpClient client, string path, Process process, Func<string> recentOutput)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            Assert.False(process.HasExited, $"the worker exited with code {(process.HasExited ? process.ExitCode : 0)}:\n{recentOutput()}");
            try
            {
                return await client.GetAsync(path, Ct);
            }
            catch (HttpRequestException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(250, Ct);
            }
            catch (HttpRequestException e)
            {
                Assert.Fail($"the worker host answers nothing on its ASPNETCORE_URLS within 60 s ({e.Message}):\n{recentOutput()}");
                throw;
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
