using System.Net.Sockets;
using Grpc.Core;
using Npgsql;
using StackExchange.Redis;

namespace Portal.Provisioning;

/// <summary>Tells a backend that could not be reached from one that answered with an error.</summary>
public static class BackendErrors
{
    /// <summary>
    /// True when <paramref name="error"/> (or an exception inside it) says the backend did not answer: refused or lost
    /// connections, unknown hosts, timeouts. Such an operation should wait for the server, not use up its attempts;
    /// an answer that refuses the work (a SQL error, a 4xx) is not one.
    /// </summary>
    public static bool IsUnreachable(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case SocketException:
                case TimeoutException: // RedisTimeoutException too
                case RedisConnectionException:
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }:
                case RpcException { StatusCode: StatusCode.Unavailable or StatusCode.DeadlineExceeded }:
                // Npgsql's own (not the server's PostgresException): the connection failed or broke.
                case NpgsqlException { IsTransient: true } and not PostgresException:
                    return true;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Any(IsUnreachable))
            {
                return true;
            }
        }

        return false;
    }
}
