using Portal.Application.Approvals;
using Portal.Application.Backends;
using Portal.Application.Common;
using Portal.Application.Quotas;
using Portal.Domain.Approvals;

namespace Portal.Domain.Tests;

public sealed class InputRulesTests
{
    [Theory]
    [InlineData("a\u0000b")]
    [InlineData("line\nbreak")]
    [InlineData("carriage\rreturn")]
    [InlineData("tab\there")]
    [InlineData("escape\u001b[31m")]
    [InlineData("delete\u007f")]
    [InlineData("c1\u0085next-line")]
    [InlineData("c1\u009bcsi")]
    [InlineData("evil\u202Etxt.exe")]
    [InlineData("embed\u202Aleft")]
    [InlineData("isolate\u2066x")]
    [InlineData("pop\u2069x")]
    public void OneLineText_WithControlOrDirectionCharacters_IsRefused(string text) =>
        Assert.NotNull(InputRules.TextProblem(text));

    // Not theory data: the test framework's serialization would replace the lone surrogates.
    [Fact]
    public void Text_WithLoneSurrogates_IsRefused()
    {
        Assert.NotNull(InputRules.TextProblem("lone\ud800surrogate"));
        Assert.NotNull(InputRules.TextProblem("reversed\udc00\ud800pair"));
        Assert.NotNull(InputRules.TextProblem("ends high\ud800"));
        Assert.Null(InputRules.TextProblem("a pair \ud83d\ude80"));
    }

    [Theory]
    [InlineData("Platform team")]
    [InlineData("'; DROP TABLE \"Teams\"; --")]
    [InlineData("Zoë Ørsted 日本")]
    [InlineData("emoji \ud83d\ude80 pair")]
    [InlineData("")]
    public void OneLineText_PrintableUnicode_Passes(string text) => Assert.Null(InputRules.TextProblem(text));

    [Fact]
    public void MultiLineText_AllowsLineBreaksAndTabs_ButNoOtherControlCharacters()
    {
        Assert.Null(InputRules.TextProblem("first\r\nsecond\n\tindented", 1000, multiLine: true));
        Assert.NotNull(InputRules.TextProblem("first\n\u0000second", 1000, multiLine: true));
        Assert.NotNull(InputRules.TextProblem("first\n\u202Esecond", 1000, multiLine: true));
    }

    [Fact]
    public void Length_IsLimited()
    {
        Assert.Null(InputRules.TextProblem(new string('x', InputRules.NameLength)));
        Assert.Equal($"At most {InputRules.NameLength} characters.", InputRules.TextProblem(new string('x', InputRules.NameLength + 1)));
        Assert.NotNull(InputRules.TextProblem(new string('x', 10 * 1024), InputRules.DescriptionLength, multiLine: true));
    }

    [Theory]
    [InlineData("<b>x</b>")]
    [InlineData("$(id)")]
    [InlineData("a b")]
    [InlineData("`id`")]
    [InlineData("x;y")]
    [InlineData("{{7*7}}")]
    [InlineData("admin\u00e9")]
    public void PlainText_RefusesShellAndHtmlCharacters(string text) => Assert.NotNull(InputRules.TextProblem(text, plain: true));

    [Fact]
    public void PlainText_TakesUrlsAndUserNames()
    {
        Assert.Null(InputRules.TextProblem("https://rgw.example.com:7480/admin?x=1&y=%20", InputRules.UrlLength, plain: true));
        Assert.Null(InputRules.TextProblem("portal_admin@example.com", plain: true));
    }

    [Fact]
    public void Request_FieldsAreNamedInCamelCase_WithTheirOwnLimits()
    {
        var request = new RegisterBackend("db one", "postgresql", "host\r\n", 5432, "admin\nX: y", new string('p', 1001), Capacity: -1,
            Settings: new Dictionary<string, string> { ["managementUrl"] = "<script>", ["bad\u0000key"] = "v" });

        var errors = Errors(request);

        Assert.Equal(["adminPassword", "adminUser", "capacity", "host", "settings", "settings.managementUrl"], errors.Keys.Order());
    }

    [Fact]
    public void Request_NullWhereNotNullable_IsRequired_AndNullItemsToo()
    {
        var errors = Errors(new SetApproverGroup(null, ["a@example.com", null!]));
        Assert.Equal(["members[1]"], errors.Keys);

        errors = Errors(new SetApproverGroup("fine", null!));
        Assert.Equal(["members"], errors.Keys);
    }

    [Fact]
    public void Request_NumbersOutsideTheirRange_AndUndefinedEnums_AreRefused()
    {
        var rule = new ApprovalRuleView("rule", null, null, null, null, -5m, (ApprovalOperation)42, false,
            [new ApprovalStage("stage", (ApproverKind)(-1), null, 0)]);

        var errors = new Validator().Input(new[] { rule }, "rules");

        var thrown = Assert.Throws<ValidationException>(errors.ThrowIfInvalid);
        Assert.Equal(
            ["rules[0].minMonthlyCost", "rules[0].operation", "rules[0].stages[0].approvers", "rules[0].stages[0].requiredApprovals"],
            thrown.Errors.Keys.Order());
    }

    [Fact]
    public void Request_ValidOne_Passes()
    {
        new Validator().Input(new SetTeamQuota(10, 100m, new Dictionary<string, int> { ["postgresql"] = 3 })).ThrowIfInvalid();
        new Validator().Input(new SetApproverGroup("Line one\nline two", ["dba@example.com"])).ThrowIfInvalid();
    }

    [Fact]
    public void Request_ListsAreBounded()
    {
        var errors = Errors(new SetApproverGroup(null, Enumerable.Range(0, InputRules.MaxItems + 1).Select(i => $"m{i}@example.com").ToList()));
        Assert.Equal(["members"], errors.Keys);
    }

    [Theory]
    [InlineData("a\u0000b", "a\uFFFDb")]
    [InlineData("line\r\nbreak", "line\uFFFD\uFFFDbreak")]
    [InlineData("evil\u202Etxt.exe", "evil\uFFFDtxt.exe")]
    [InlineData("emoji \ud83d\ude00 ok", "emoji \ud83d\ude00 ok")]
    public void Recordable_CallersText_ControlAndBrokenCharactersReplaced(string given, string recorded) =>
        Assert.Equal(recorded, InputRules.Recordable(given, 100));

    [Fact]
    public void Recordable_LoneSurrogate_IsReplaced() =>
        Assert.Equal("lone\uFFFD", InputRules.Recordable("lone" + (char)0xD800, 100));

    [Fact]
    public void Recordable_OversizeText_IsCut() =>
        Assert.Equal(new string('x', 256), InputRules.Recordable(new string('x', 10_000), 256));

    private static IReadOnlyDictionary<string, string[]> Errors(object request) =>
        Assert.Throws<ValidationException>(() => InputRules.Check(request)).Errors;
}
