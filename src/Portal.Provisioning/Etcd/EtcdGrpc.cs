using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;
using Portal.Provisioning.Http;

namespace Portal.Provisioning.Etcd;

/// <summary>
/// The gateway's calls as etcd gRPC calls, for TLS backends: the same JSON in and out (proto field names, base64
/// bytes, int64 as strings, defaults omitted), so <see cref="EtcdDriver"/> reads both transports alike.
/// </summary>
/// <remarks>
/// Why not the JSON gateway over TLS: with <c>--client-cert-auth</c> and authentication on, etcd answers HTTP 400 to
/// every <c>/v3/</c> request whose client certificate carries a Common Name ("CommonName of client sending a request
/// against gateway will be ignored"), and the platform CA issues no certificate without one. The gateway's own hop
/// to the gRPC server would also need the server certificate to allow client authentication. gRPC has neither
/// problem: the admin's token decides, and the certificate only opens the connection.
/// </remarks>
internal static class EtcdGrpc
{
    private static readonly JsonFormatter Formatter =
        new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

    private static readonly Dictionary<string, Rpc> Rpcs = new(StringComparer.Ordinal)
    {
        ["auth/authenticate"] = Auth("Authenticate", AuthenticateRequest.Descriptor, AuthenticateResponse.Parser),
        ["auth/user/add"] = Auth("UserAdd", AuthUserAddRequest.Descriptor, AuthUserAddResponse.Parser),
        ["auth/user/get"] = Auth("UserGet", AuthUserGetRequest.Descriptor, AuthUserGetResponse.Parser),
        ["auth/user/list"] = Auth("UserList", AuthUserListRequest.Descriptor, AuthUserListResponse.Parser),
        ["auth/user/delete"] = Auth("UserDelete", AuthUserDeleteRequest.Descriptor, AuthUserDeleteResponse.Parser),
        ["auth/user/changepw"] = Auth("UserChangePassword", AuthUserChangePasswordRequest.Descriptor, AuthUserChangePasswordResponse.Parser),
        ["auth/user/grant"] = Auth("UserGrantRole", AuthUserGrantRoleRequest.Descriptor, AuthUserGrantRoleResponse.Parser),
        ["auth/role/add"] = Auth("RoleAdd", AuthRoleAddRequest.Descriptor, AuthRoleAddResponse.Parser),
        ["auth/role/get"] = Auth("RoleGet", AuthRoleGetRequest.Descriptor, AuthRoleGetResponse.Parser),
        ["auth/role/delete"] = Auth("RoleDelete", AuthRoleDeleteRequest.Descriptor, AuthRoleDeleteResponse.Parser),
        ["auth/role/grant"] = Auth("RoleGrantPermission", AuthRoleGrantPermissionRequest.Descriptor, AuthRoleGrantPermissionResponse.Parser),
        ["auth/role/revoke"] = Auth("RoleRevokePermission", AuthRoleRevokePermissionRequest.Descriptor, AuthRoleRevokePermissionResponse.Parser),
        ["kv/range"] = Of("KV", "Range", RangeRequest.Descriptor, RangeResponse.Parser),
        ["kv/deleterange"] = Of("KV", "DeleteRange", DeleteRangeRequest.Descriptor, DeleteRangeResponse.Parser),
        ["lease/timetolive"] = Of("Lease", "LeaseTimeToLive", LeaseTimeToLiveRequest.Descriptor, LeaseTimeToLiveResponse.Parser),
        ["lease/revoke"] = Of("Lease", "LeaseRevoke", LeaseRevokeRequest.Descriptor, LeaseRevokeResponse.Parser),
        ["maintenance/status"] = Of("Maintenance", "Status", StatusRequest.Descriptor, StatusResponse.Parser),
    };

    /// <summary>
    /// Sends one call; an <see cref="RpcException"/> other than "unavailable" comes back as <see cref="EtcdException"/>
    /// (etcd's code and message, as the gateway reports them).
    /// </summary>
    public static async Task<JsonElement> CallAsync(
        CallInvoker invoker, string method, string json, string? token, CancellationToken ct)
    {
        if (!Rpcs.TryGetValue(method, out var rpc))
        {
            throw new NotSupportedException($"The etcd call {method} has no gRPC mapping.");
        }

        var request = JsonParser.Default.Parse(json, rpc.Request);
        var headers = token is null ? null : new Metadata { { "token", token } };
        try
        {
            var response = await invoker.AsyncUnaryCall(rpc.Method, null, new CallOptions(headers, cancellationToken: ct), request);
            using var document = JsonDocument.Parse(Formatter.Format(response));
            return document.RootElement.Clone();
        }
        catch (RpcException e) when (e.StatusCode is not (StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled))
        {
            throw new EtcdException((int)e.StatusCode, e.Status.Detail, null);
        }
    }

    /// <summary>True when the call never reached a working member (refused, TLS handshake, no leader): try another.</summary>
    public static bool IsUnavailable(RpcException e) => e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded;

    private static Rpc Auth(string name, MessageDescriptor request, MessageParser response) => Of("Auth", name, request, response);

    private static Rpc Of(string service, string name, MessageDescriptor request, MessageParser response) =>
        new(new Method<IMessage, IMessage>(MethodType.Unary, $"etcdserverpb.{service}", name,
            Marshallers.Create<IMessage>(m => m.ToByteArray(), _ => throw new NotSupportedException()),
            Marshallers.Create<IMessage>(_ => throw new NotSupportedException(), bytes => response.ParseFrom(bytes))), request);

    private sealed record Rpc(Method<IMessage, IMessage> Method, MessageDescriptor Request);
}

/// <summary>
/// gRPC channels to a TLS backend's client URLs, each presenting a client certificate the driver issued itself from
/// the platform CA (etcd's <c>--client-cert-auth</c> lets no connection in without one) and trusting only that CA for
/// the server. Certificates live in memory only and are renewed at half their validity.
/// </summary>
/// <remarks>
/// The certificate's Common Name is the backend's admin user, so a gRPC call without a token would act as that user;
/// the driver always sends the admin's token, so the password stays what grants its rights. The short validity bounds
/// what a certificate leaked from memory could do, since etcd 3.4 knows no revocation of its own.
/// </remarks>
internal sealed class EtcdTlsChannels : IDisposable
{
    /// <summary>How long the driver's own client certificate is valid.</summary>
    internal static readonly TimeSpan CertificateValidity = TimeSpan.FromHours(1);

    /// <summary>
    /// The CN of the driver's own certificate: no etcd user, so the certificate only opens the TLS connection and
    /// grants nothing by itself — the admin's rights come from its password token on every call.
    /// </summary>
    internal const string ClientCommonName = "portal-driver";

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;

    public EtcdTlsChannels(TimeProvider? clock = null) => _clock = clock ?? TimeProvider.System;

    /// <summary>The channel to <paramref name="url"/> for <paramref name="backend"/>'s admin, made or renewed as needed.</summary>
    public CallInvoker For(BackendEndpoint backend, string url)
    {
        var ca = backend.RequireCa();
        var key = $"{url}|{backend.AdminUser}|{ca.Sha256Fingerprint}";
        lock (_lock)
        {
            var now = _clock.GetUtcNow();
            if (_entries.TryGetValue(key, out var entry) && now < entry.RenewAfter)
            {
                return entry.Invoker;
            }

            // The channel being replaced may still carry another job's call: it is disposed one renewal later.
            entry?.Previous?.Channel.Dispose();
            var issued = ca.IssueClient(ClientCommonName, CertificateValidity);
            var handler = PlatformCaHandler.Create(ca);
            handler.ConnectTimeout = TimeSpan.FromSeconds(10);
            // Connections end before the certificate they were opened with does.
            handler.PooledConnectionLifetime = CertificateValidity / 4;
            handler.SslOptions.ClientCertificates = new X509CertificateCollection { issued.ToX509() };
            var channel = GrpcChannel.ForAddress(url, new GrpcChannelOptions
            {
                HttpHandler = handler,
                DisposeHttpClient = true,
                ThrowOperationCanceledOnCancellation = true,
            });
            var fresh = new Entry(channel, channel.CreateCallInvoker(), now + ((issued.NotAfter - now) / 2),
                entry is null ? null : entry with { Previous = null });
            _entries[key] = fresh;
            return fresh.Invoker;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var entry in _entries.Values)
            {
                entry.Previous?.Channel.Dispose();
                entry.Channel.Dispose();
            }

            _entries.Clear();
        }
    }

    private sealed record Entry(GrpcChannel Channel, CallInvoker Invoker, DateTimeOffset RenewAfter, Entry? Previous);
}
