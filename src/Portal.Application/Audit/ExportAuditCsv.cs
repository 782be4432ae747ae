using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Data;

namespace Portal.Application.Audit;

/// <summary>The same events as CSV (RFC 4180), oldest first, up to 100,000 rows.</summary>
public sealed class ExportAuditCsvHandler(IDbContextFactory<PortalDbContext> dbFactory)
{
    public const int MaxRows = 100_000;

    public async Task<string> HandleAsync(Actor actor, AuditQuery query, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var csv = new StringBuilder("sequence,at,actor_id,actor_name,actor_kind,action,object_type,object_id,team_id,address,outcome,details,hash\r\n");
        await foreach (var e in AuditQueries.Filter(db, actor, query).OrderBy(e => e.Sequence).Take(MaxRows).Select(AuditQueries.ToView)
                           .AsAsyncEnumerable().WithCancellation(ct))
        {
            csv.AppendJoin(',', [
                e.Sequence.ToString(CultureInfo.InvariantCulture), e.At.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                e.ActorId?.ToString() ?? "", Quote(e.ActorName), e.ActorKind, e.Action, e.ObjectType, Quote(e.ObjectId), e.TeamId?.ToString() ?? "",
                e.Address ?? "", e.Outcome, Quote(e.Details), e.Hash,
            ]).Append("\r\n");
        }

        return csv.ToString();
    }

    // Quote every free-text field; a leading =, +, - or @ is defused so spreadsheets do not run it.
    private static string Quote(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        var safe = value[0] is '=' or '+' or '-' or '@' ? "'" + value : value;
        return "\"" + safe.Replace("\"", "\"\"") + "\"";
    }
}
