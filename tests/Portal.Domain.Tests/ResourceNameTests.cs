using Portal.Domain.Instances;

namespace Portal.Domain.Tests;

public sealed class ResourceNameTests
{
    public static TheoryData<string> ValidNames() =>
    [
        "orders-db",
        "abc",
        "a1b",
        "a-b",
        "a1-2b-c3",
        "db2",
        "a" + new string('b', 39), // 40 characters, the longest allowed
        "a" + string.Concat(Enumerable.Repeat("-b", 19)) + "c", // 40 characters, many single hyphens
    ];

    public static TheoryData<string> InvalidNames() =>
    [
        "",
        "   ",
        "a",
        "ab", // too short
        "a" + new string('b', 40), // 41 characters
        "Orders",
        "orders-DB",
        "1abc", // must start with a letter
        "-abc",
        "a--b", // double hyphen
        "abc-", // trailing hyphen
        "a_b",
        "a b",
        "a.b",
        " abc",
        "abc ",
        "abc\n", // .NET's $ also matches before a final newline
        "abc\r\n",
        "\nabc",
        "ábc", // non-ASCII letter
        "abç",
        "abc١", // Arabic-Indic digit one
        "аbc", // Cyrillic а
        "../x",
        "a/b",
        "a\\b",
    ];

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void IsValid_ValidName_ReturnsTrue(string name) =>
        Assert.True(ResourceName.IsValid(name), $"'{name}' ({name.Length} chars) should be valid");

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public void IsValid_InvalidName_ReturnsFalse(string name) =>
        Assert.False(ResourceName.IsValid(name), $"'{name}' should be invalid");

    [Fact]
    public void IsValid_Null_ReturnsFalse() => Assert.False(ResourceName.IsValid(null));

    [Theory]
    [InlineData(3, true)]
    [InlineData(39, true)]
    [InlineData(40, true)]
    [InlineData(41, false)]
    [InlineData(100, false)]
    public void IsValid_LengthBoundary_AcceptsThreeToForty(int length, bool expected) =>
        Assert.Equal(expected, ResourceName.IsValid(new string('x', length)));
}
