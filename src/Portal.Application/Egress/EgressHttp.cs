using System.Net.Sockets;
using Portal.Domain.Egress;

namespace Portal.Application.Egress;

/// <summary>The HTTP handler for clients that send to user-given URLs (webhook deliveries).</summary>
public static class EgressHttp
{
    /// <summary>
    /// A handler that checks where it connects: the connect callback resolves the host itself and judges every address
    /// before connecting to them (so a name that resolved to a public address when it was accepted and to 127.0.0.1 now
    /// is refused: DNS rebinding). It follows no redirects (a 302 to an internal address would bypass the check on the
    /// accepted URL), uses no proxy (the proxy's address would be judged instead of the target's), and keeps no idle
    /// connections (a pooled connection would outlive the removal of the allow entry that opened it).
    /// </summary>
    public static SocketsHttpHandler Handler(EgressGuard guard, EgressScope scope)
    {
        ArgumentNullException.ThrowIfNull(guard);
        return new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            PooledConnectionLifetime = TimeSpan.Zero,
            ConnectCallback = async (context, ct) =>
            {
                var addresses = await guard.ResolveAllowedAsync(context.DnsEndPoint.Host, scope, ct);
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
    }
}
