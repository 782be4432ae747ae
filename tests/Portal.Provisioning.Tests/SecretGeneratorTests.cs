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
}
