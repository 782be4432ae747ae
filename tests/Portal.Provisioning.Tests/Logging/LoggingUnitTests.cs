using System.Text;
using Portal.Provisioning.Logging;

namespace Portal.Provisioning.Tests.Logging;

public sealed class LoggingNamesTests
{
    private static readonly Guid Id = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");

    [Fact]
    public void Stream_FromInstanceId_IsLowercaseHexWithPrefix()
    {
        Assert.Equal("ls-0f8fad5bd9cb469fa16570867728950e", LoggingNames.Stream(Id));
        Assert.True(LoggingNames.IsStream(LoggingNames.Stream(Id)));
    }

    [Fact]
    public void BindingKey_FromBindingId_IsLowercaseHexWithPrefix()
    {
        Assert.Equal("lb-0f8fad5bd9cb469fa16570867728950e", LoggingNames.BindingKey(Id));
        Assert.Equal(LoggingNames.BindingKey(Id), LoggingNames.BindingKey(Id, 0));
        Assert.True(LoggingNames.IsBindingKey(LoggingNames.BindingKey(Id)));
    }

    [Theory]
    [InlineData(1, "lb-0f8fad5bd9cb469fa16570867728950e-g1")]
    [InlineData(12, "lb-0f8fad5bd9cb469fa16570867728950e-g12")]
    [InlineData(int.MaxValue, "lb-0f8fad5bd9cb469fa16570867728950e-g2147483647")]
    public void BindingKey_LaterGeneration_HasGenerationSuffixAndIsOfItsBinding(int generation, string key)
    {
        Assert.Equal(key, LoggingNames.BindingKey(Id, generation));
        Assert.True(LoggingNames.IsBindingKey(key));
        Assert.True(LoggingNames.IsKeyOfBinding(key, Id));
        Assert.False(LoggingNames.IsKeyOfBinding(key, Guid.NewGuid()));
    }

    [Fact]
    public void BindingKey_NegativeGeneration_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => LoggingNames.BindingKey(Id, -1));

    [Theory]
    [InlineData("lb-0f8fad5bd9cb469fa16570867728950e-g0")]
    [InlineData("lb-0f8fad5bd9cb469fa16570867728950e-g01")]
    [InlineData("lb-0f8fad5bd9cb469fa16570867728950e-g")]
    [InlineData("lb-0f8fad5bd9cb469fa16570867728950e-g-1")]
    [InlineData("lb-0f8fad5bd9cb469fa16570867728950e_g1")]
    [InlineData("lb-0f8fad5bd9cb469fa16570867728950e-g1x")]
    [InlineData("lb-0F8FAD5BD9CB469FA16570867728950E")]
    [InlineData("lb-0f8fad5bd9cb469fa16570867728950e0")]
    public void IsBindingKey_AnythingTheDriverDoesNotMake_False(string key)
    {
        Assert.False(LoggingNames.IsBindingKey(key));
        Assert.False(LoggingNames.IsKeyOfBinding(key, Id));
    }

    [Fact]
    public void IsKeyOfBinding_AnotherBindingWhoseIdSharesThePrefix_False()
    {
        var other = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950f");

        Assert.False(LoggingNames.IsKeyOfBinding(LoggingNames.BindingKey(other), Id));
        Assert.False(LoggingNames.IsKeyOfBinding(LoggingNames.BindingKey(other, 3), Id));
    }

    [Theory]
    [InlineData("ls-0F8FAD5BD9CB469FA16570867728950E")]
    [InlineData("ls-0f8fad5bd9cb469fa16570867728950")]
    [InlineData("ls-../../etc")]
    [InlineData("_quarantine")]
    [InlineData("probe-abc")]
    [InlineData("ls-0f8fad5bd9cb469fa16570867728950e/x")]
    public void IsStream_AnythingTheDriverDoesNotMake_False(string name) => Assert.False(LoggingNames.IsStream(name));

    [Fact]
    public void StructuredData_Token_IsTheElementAppsSend() =>
        Assert.Equal("[portal@32473 token=\"abcDEF123\"]", LoggingNames.StructuredData("abcDEF123"));
}

public sealed class Rfc5424Tests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a\"b", "a\\\"b")]
    [InlineData("a\\b", "a\\\\b")]
    [InlineData("a]b", "a\\]b")]
    [InlineData("[x=\"y\"]", "[x=\\\"y\\\"\\]")]
    public void EscapeParamValue_SpecialCharacters_Backslashed(string value, string escaped) =>
        Assert.Equal(escaped, Rfc5424.EscapeParamValue(value));

    [Fact]
    public void Format_AllFields_Rfc5424Line()
    {
        var time = new DateTimeOffset(2025, 3, 4, 5, 6, 7, 890, TimeSpan.FromHours(2));

        var line = Rfc5424.Format(time, "host1", "app", "ID47", "[portal@32473 token=\"t\"]", "hello world", severity: 3, facility: 16);

        Assert.Equal("<131>1 2025-03-04T03:06:07.890000Z host1 app - ID47 [portal@32473 token=\"t\"] hello world", line);
    }

    [Fact]
    public void Format_EmptyFields_Nil() =>
        Assert.Equal("<14>1 2025-01-01T00:00:00.000000Z - - - - - msg",
            Rfc5424.Format(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero), "", "", "", "", "msg"));

    [Theory]
    [InlineData("has space")]
    [InlineData("tab\t")]
    [InlineData("ünï")]
    public void Format_HeaderNotPrintableAscii_Throws(string app) =>
        Assert.Throws<ArgumentException>(() => Rfc5424.Format(DateTimeOffset.UtcNow, "h", app, "-", "-", "m"));

    [Fact]
    public void Format_SeverityOutOfRange_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Rfc5424.Format(DateTimeOffset.UtcNow, "h", "a", "-", "-", "m", severity: 8));

    [Fact]
    public void Frame_Multibyte_LengthCountsUtf8Bytes() =>
        Assert.Equal(Encoding.UTF8.GetBytes("6 grüß"), Rfc5424.Frame("grüß"));
}

public sealed class TokenTableTests
{
    private const string ProbeToken = "PROBEprobePROBEprobe123456";
    private const string ProbeValue = "probe-abcdefghijklmnop";

    private static StreamRecord Record(Guid instance, params (Guid Binding, string Token)[] tokens)
    {
        var record = StreamRecord.For(instance);
        foreach (var (binding, token) in tokens)
        {
            record = record.WithToken(LoggingNames.BindingKey(binding), token);
        }

        return record;
    }

    [Fact]
    public void Render_Records_SortedTableWithProbe()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        var tokenA = new string('z', 32);
        var tokenB = new string('a', 32);

        var json = TokenTable.Render([Record(a, (Guid.NewGuid(), tokenA)), Record(b, (Guid.NewGuid(), tokenB)), Record(Guid.NewGuid())],
            ProbeToken, ProbeValue);

        Assert.StartsWith("{\"version\":1,\"nomatch\":\"\",\"type\":\"string\",\"table\":[", json, StringComparison.Ordinal);
        var table = TokenTable.Parse(json);
        Assert.Equal([ProbeToken, tokenB, tokenA], table.Keys);
        Assert.Equal(LoggingNames.Stream(a), table[tokenA]);
        Assert.Equal(LoggingNames.Stream(b), table[tokenB]);
        Assert.Equal(ProbeValue, table[ProbeToken]);
    }

    [Fact]
    public void Render_SameInput_SameText()
    {
        var record = Record(Guid.NewGuid(), (Guid.NewGuid(), new string('q', 32)), (Guid.NewGuid(), new string('r', 32)));

        Assert.Equal(TokenTable.Render([record], ProbeToken, ProbeValue), TokenTable.Render([record], ProbeToken, ProbeValue));
    }

    [Fact]
    public void Render_GenerationsOfOneBinding_EveryTokenRoutedToTheStream()
    {
        var instance = Guid.NewGuid();
        var binding = Guid.NewGuid();
        var record = StreamRecord.For(instance)
            .WithToken(LoggingNames.BindingKey(binding), new string('a', 32))
            .WithToken(LoggingNames.BindingKey(binding, 1), new string('b', 32));

        var table = TokenTable.Parse(TokenTable.Render([record], ProbeToken, ProbeValue));

        Assert.Equal(LoggingNames.Stream(instance), table[new string('a', 32)]);
        Assert.Equal(LoggingNames.Stream(instance), table[new string('b', 32)]);
    }

    [Fact]
    public void WithoutTokens_KeysOfOneBinding_RemovesEveryGenerationAndKeepsOtherBindings()
    {
        var binding = Guid.NewGuid();
        var other = Guid.NewGuid();
        var record = StreamRecord.For(Guid.NewGuid())
            .WithToken(LoggingNames.BindingKey(binding), new string('a', 32))
            .WithToken(LoggingNames.BindingKey(binding, 1), new string('b', 32))
            .WithToken(LoggingNames.BindingKey(binding, 7), new string('c', 32))
            .WithToken(LoggingNames.BindingKey(other), new string('d', 32));

        var retired = record.WithoutToken(LoggingNames.BindingKey(binding));
        var unbound = record.WithoutTokens(k => LoggingNames.IsKeyOfBinding(k, binding));

        Assert.Equal(
            new[] { LoggingNames.BindingKey(binding, 1), LoggingNames.BindingKey(binding, 7), LoggingNames.BindingKey(other) }
                .Order(StringComparer.Ordinal),
            retired.Tokens.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([LoggingNames.BindingKey(other)], unbound.Tokens.Keys);
        Assert.Equal(4, record.Tokens.Count);
    }

    [Fact]
    public void Render_StreamNotOfItsInstance_Refused()
    {
        var forged = StreamRecord.For(Guid.NewGuid()) with { Stream = "ls-../../../etc" };

        Assert.Throws<InvalidDataException>(() => TokenTable.Render([forged], ProbeToken, ProbeValue));
    }

    [Theory]
    [InlineData("short")]
    [InlineData("has space has space has space")]
    [InlineData("quote\"quote\"quote\"quote\"")]
    public void Render_MalformedToken_Refused(string token) =>
        Assert.Throws<InvalidDataException>(() =>
            TokenTable.Render([Record(Guid.NewGuid(), (Guid.NewGuid(), token))], ProbeToken, ProbeValue));

    [Fact]
    public void Render_TokenOfTwoBindings_Refused()
    {
        var token = new string('d', 32);

        Assert.Throws<InvalidDataException>(() => TokenTable.Render(
            [Record(Guid.NewGuid(), (Guid.NewGuid(), token)), Record(Guid.NewGuid(), (Guid.NewGuid(), token))], ProbeToken, ProbeValue));
    }

    [Fact]
    public void Render_BadProbe_Refused() =>
        Assert.Throws<ArgumentException>(() => TokenTable.Render([], ProbeToken, "ls-notaprobe"));

    [Fact]
    public void Record_SerializeDeserialize_RoundTripsAndHidesTokensInToString()
    {
        var token = SecretGenerator.Password();
        var record = Record(Guid.NewGuid(), (Guid.NewGuid(), token));

        var back = TokenTable.DeserializeRecord(TokenTable.SerializeRecord(record))!;

        Assert.Equal(record.InstanceId, back.InstanceId);
        Assert.Equal(record.Stream, back.Stream);
        Assert.Equal(record.Tokens, back.Tokens);
        Assert.DoesNotContain(token, record.ToString(), StringComparison.Ordinal);
        Assert.Empty(back.WithoutToken(record.Tokens.Keys.Single()).Tokens);
    }

    [Fact]
    public void IsToken_GeneratedPassword_True() => Assert.True(TokenTable.IsToken(SecretGenerator.Password()));
}

public sealed class LogFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("portal-logfiles-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("2025-01-31.log", 2025, 1, 31)]
    [InlineData("1999-12-01.log", 1999, 12, 1)]
    public void DayOf_DayFileName_Day(string name, int year, int month, int day) =>
        Assert.Equal(new DateOnly(year, month, day), LogFiles.DayOf(name));

    [Theory]
    [InlineData("2025-02-30.log")]
    [InlineData("2025-01-31.log.gz")]
    [InlineData("notes.log")]
    [InlineData("2025-1-3.log")]
    public void DayOf_OtherName_Null(string name) => Assert.Null(LogFiles.DayOf(name));

    [Theory]
    // now = 2025-03-10 12:00 UTC
    [InlineData(2025, 3, 10, 1, false)]
    [InlineData(2025, 3, 9, 1, false)]
    [InlineData(2025, 3, 8, 1, true)]
    [InlineData(2025, 3, 3, 7, false)]
    [InlineData(2025, 3, 2, 7, true)]
    public void IsExpired_DayAndRetention_OnlyWholeDaysOlderThanRetention(int year, int month, int day, int days, bool expired) =>
        Assert.Equal(expired, LogFiles.IsExpired(new DateOnly(year, month, day), new DateTimeOffset(2025, 3, 10, 12, 0, 0, TimeSpan.Zero), days));

    [Fact]
    public void IsExpired_AtMidnight_TheDayEndedExactlyRetentionAgo_Expired() =>
        Assert.True(LogFiles.IsExpired(new DateOnly(2025, 3, 8), new DateTimeOffset(2025, 3, 10, 0, 0, 0, TimeSpan.Zero), 1));

    [Fact]
    public void ParseLine_RsyslogLine_Entry()
    {
        var entry = LogFiles.ParseLine(
            "{\"time\":\"2025-11-25T20:26:25.660956+01:00\", \"received\":\"2025-11-25T19:26:25.661075+00:00\", \"host\":\"vm\", " +
            "\"app\":\"appA\", \"procid\":\"-\", \"msgid\":\"-\", \"severity\":\"notice\", \"msg\":\"hello \\\"quoted\\\" \\\\ ünï\"}");

        Assert.NotNull(entry);
        Assert.Equal(new DateTimeOffset(2025, 11, 25, 20, 26, 25, TimeSpan.FromHours(1)).AddTicks(6609560), entry.Timestamp);
        Assert.Equal("vm", entry.Host);
        Assert.Equal("appA", entry.App);
        Assert.Equal("notice", entry.Severity);
        Assert.Equal("hello \"quoted\" \\ ünï", entry.Message);
    }

    [Fact]
    public void ParseLine_NoSenderTime_UsesReceived() =>
        Assert.Equal(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero),
            LogFiles.ParseLine("{\"time\":\"-\",\"received\":\"2025-01-02T03:04:05+00:00\",\"msg\":\"m\"}")!.Timestamp);

    [Theory]
    [InlineData("")]
    [InlineData("{\"time\":\"2025-01-02T03:04:05+00:00\", \"msg\":\"cut of")]
    [InlineData("not json")]
    [InlineData("{\"msg\":\"no time\"}")]
    [InlineData("[1,2]")]
    public void ParseLine_NotAnEntry_Null(string line) => Assert.Null(LogFiles.ParseLine(line));

    [Fact]
    public async Task ReadLinesBackwardAsync_LinesAcrossChunks_AllLinesLastFirst()
    {
        var path = Path.Combine(_dir, "big.log");
        // Lines of varying length, multibyte characters straddling the 64 KiB chunk borders.
        var lines = Enumerable.Range(0, 5000).Select(i => $"{i} " + new string('ü', i % 97) + "€" + new string('x', i % 13)).ToList();
        await File.WriteAllTextAsync(path, string.Join('\n', lines) + "\npartial last li", TestContext.Current.CancellationToken);

        var read = new List<string>();
        await foreach (var line in LogFiles.ReadLinesBackwardAsync(path, TestContext.Current.CancellationToken))
        {
            read.Add(line);
        }

        Assert.Equal("partial last li", read[0]);
        Assert.Equal(Enumerable.Reverse(lines), read.Skip(1));
    }

    [Fact]
    public async Task ReadLinesBackwardAsync_EmptyAndBlankLines_Skipped()
    {
        var path = Path.Combine(_dir, "blank.log");
        await File.WriteAllTextAsync(path, "a\n\nb\n", TestContext.Current.CancellationToken);

        var read = new List<string>();
        await foreach (var line in LogFiles.ReadLinesBackwardAsync(path, TestContext.Current.CancellationToken))
        {
            read.Add(line);
        }

        Assert.Equal(["b", "a"], read);
    }

    [Fact]
    public void DayFiles_Folder_NewestFirstOnlyDayFiles()
    {
        foreach (var name in new[] { "2025-01-02.log", "2025-01-10.log", "2024-12-31.log", "x.log", "2025-01-03.txt" })
        {
            File.WriteAllText(Path.Combine(_dir, name), "");
        }

        Assert.Equal([new DateOnly(2025, 1, 10), new DateOnly(2025, 1, 2), new DateOnly(2024, 12, 31)],
            LogFiles.DayFiles(_dir).Select(f => f.Day));
        Assert.Empty(LogFiles.DayFiles(Path.Combine(_dir, "missing")));
    }
}
