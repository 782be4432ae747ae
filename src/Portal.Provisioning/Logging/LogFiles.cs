using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Portal.Provisioning.Logging;

/// <summary>
/// The files rsyslog writes for a stream, <c>&lt;logDir&gt;/&lt;stream&gt;/&lt;yyyy-mm-dd&gt;.log</c> (UTC days),
/// one JSON object per line (the collector's <c>jsonLine</c> template): reading them back newest first, and
/// which ones retention removes.
/// </summary>
public static class LogFiles
{
    private const string DateFormat = "yyyy-MM-dd";
    private const int ChunkSize = 64 * 1024;

    /// <summary>The UTC day a file name like <c>2025-01-31.log</c> stands for; null for any other name.</summary>
    public static DateOnly? DayOf(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        return fileName.EndsWith(".log", StringComparison.Ordinal)
            && DateOnly.TryParseExact(fileName[..^4], DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
                ? day
                : null;
    }

    /// <summary>The day files in a folder, newest first; other files are ignored.</summary>
    public static IReadOnlyList<(string Path, DateOnly Day)> DayFiles(string directory) =>
        !Directory.Exists(directory)
            ? []
            : Directory.EnumerateFiles(directory, "*.log")
                .Select(path => (Path: path, Day: DayOf(System.IO.Path.GetFileName(path))))
                .Where(f => f.Day is not null)
                .Select(f => (f.Path, f.Day!.Value))
                .OrderByDescending(f => f.Item2)
                .ToList();

    /// <summary>
    /// True when every message of the day's file is older than <paramref name="retentionDays"/>: the day
    /// ended at least that many days before <paramref name="now"/>. So a file is kept for at least the
    /// retention, and today's file plus the <paramref name="retentionDays"/> days before it remain.
    /// </summary>
    public static bool IsExpired(DateOnly day, DateTimeOffset now, int retentionDays)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retentionDays, 1);
        var endOfDay = new DateTimeOffset(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        return endOfDay <= now.ToUniversalTime().AddDays(-retentionDays);
    }

    /// <summary>
    /// Parses one stored line; null for a line that is not a complete entry (e.g. the last one while rsyslog
    /// is still writing it). <c>time</c> is the sender's timestamp; the collector's <c>received</c> stands in
    /// when it is missing or unreadable.
    /// </summary>
    public static LogEntry? ParseLine(string line)
    {
        if (string.IsNullOrWhiteSpace(line) || line[0] != '{')
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var timestamp = Time(root, "time") ?? Time(root, "received");
            return timestamp is null
                ? null
                : new LogEntry(timestamp.Value, Text(root, "host"), Text(root, "app"), Text(root, "severity"), Text(root, "msg"));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The file's lines from last to first, read in chunks from the end, so a tail of a large file costs only
    /// the chunks it needs. Lines are split on the byte <c>\n</c>, which never occurs inside a UTF-8
    /// sequence; invalid UTF-8 is decoded as U+FFFD rather than losing the line.
    /// </summary>
    public static async IAsyncEnumerable<string> ReadLinesBackwardAsync(
        string path, [EnumeratorCancellation] CancellationToken ct = default)
    {
        // rsyslog keeps appending (and retention may delete) while we read.
        using SafeFileHandle handle = File.OpenHandle(
            path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        var position = RandomAccess.GetLength(handle);
        var buffer = new byte[ChunkSize];
        // Bytes of the line that continues into the chunk read next (which lies before it in the file).
        var carry = new List<byte>();
        while (position > 0)
        {
            var size = (int)Math.Min(ChunkSize, position);
            position -= size;
            var read = 0;
            while (read < size)
            {
                var n = await RandomAccess.ReadAsync(handle, buffer.AsMemory(read, size - read), position + read, ct);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            var end = read;
            for (var i = read - 1; i >= 0; i--)
            {
                if (buffer[i] != (byte)'\n')
                {
                    continue;
                }

                var line = Decode(buffer.AsSpan(i + 1, end - i - 1), carry);
                if (line.Length > 0)
                {
                    yield return line;
                }

                end = i;
            }

            carry.InsertRange(0, buffer.AsSpan(0, end).ToArray());
        }

        if (carry.Count > 0)
        {
            yield return Encoding.UTF8.GetString(carry.ToArray());
        }
    }

    private static string Decode(ReadOnlySpan<byte> tail, List<byte> carry)
    {
        if (carry.Count == 0)
        {
            return Encoding.UTF8.GetString(tail);
        }

        byte[] whole = [.. tail, .. carry];
        carry.Clear();
        return Encoding.UTF8.GetString(whole);
    }

    private static string Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";

    private static DateTimeOffset? Time(JsonElement root, string name) =>
        DateTimeOffset.TryParse(Text(root, name), CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
            ? time
            : null;
}
