namespace Portal.Provisioning.Tests;

public sealed class SecretGeneratorTests
{
    [Fact]
    public void Password_Default_Is32AlphanumericChars()
    {
        var password = SecretGenerator.Password();
        Assert.Equal(32, password.Length);
        Assert.All(password, c => Assert.True(char.IsAsciiLetterOrDigit(c), $"unexpected char '{c}'"));
    }

    [Fact]
    public void Password_CalledTwice_Differs()
    {
        Assert.NotEqual(SecretGenerator.Password(), SecretGenerator.Password());
    }

    [Fact]
    public void Password_TooShort_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SecretGenerator.Password(8));
    }

    [Theory]
    [InlineData("abcdefghijklmnop", true)]
    [InlineData("ABCdef0123456789ABCdef0123456789", true)]
    [InlineData("abcdefghijklmno", false)]
    [InlineData("abcdefghijklmnop!", false)]
    [InlineData("abcdefgh ijklmnop", false)]
    [InlineData("abcdefghijklmnopé", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void IsPassword_Text_TrueOnlyForWhatPasswordMakes(string? text, bool expected) =>
        Assert.Equal(expected, SecretGenerator.IsPassword(text));

    [Fact]
    public void IsPassword_GeneratedPasswords_True()
    {
        Assert.True(SecretGenerator.IsPassword(SecretGenerator.Password()));
        Assert.True(SecretGenerator.IsPassword(SecretGenerator.Password(48)));
    }

    [Fact]
    public void ExistingOrNewSecret_NoExisting_FreshOfTheLength()
    {
        var binding = Binding(existing: null);

        var secret = binding.ExistingOrNewSecret("password", 40);

        Assert.Equal(40, secret.Length);
        Assert.NotEqual(secret, binding.ExistingOrNewSecret("password", 40));
    }

    [Fact]
    public void ExistingOrNewSecret_ExistingHoldsTheKey_ReturnsIt()
    {
        var old = SecretGenerator.Password();

        Assert.Equal(old, Binding(new Dictionary<string, string> { ["token"] = old }).ExistingOrNewSecret("token"));
    }

    [Fact]
    public void ExistingOrNewSecret_ExistingWithoutTheKey_Fresh()
    {
        var old = SecretGenerator.Password();

        Assert.NotEqual(old, Binding(new Dictionary<string, string> { ["password"] = old }).ExistingOrNewSecret("token"));
    }

    [Fact]
    public void ExistingOrNewSecret_ExistingNotAPassword_ThrowsWithoutTheValue()
    {
        var binding = Binding(new Dictionary<string, string> { ["password"] = "short'quote" });

        var e = Assert.Throws<ArgumentException>(() => binding.ExistingOrNewSecret("password"));

        Assert.DoesNotContain("short", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("short", binding.ToString(), StringComparison.Ordinal);
    }

    private static BindingContext Binding(IReadOnlyDictionary<string, string>? existing) =>
        new(new InstanceContext(Guid.NewGuid(), new BackendEndpoint("h", 1, "a", "p"), new Dictionary<string, int>(), new RecordingProgress()),
            Guid.NewGuid()) { Existing = existing };
}
