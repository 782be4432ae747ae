using Portal.Provisioning.Postgres;

namespace Portal.Provisioning.Tests.Postgres;

public sealed class PostgresSqlTextTests
{
    [Theory]
    [InlineData("pi_abc", "\"pi_abc\"")]
    [InlineData("we\"ird", "\"we\"\"ird\"")]
    [InlineData("Mixed Case", "\"Mixed Case\"")]
    public void QuoteIdent_Name_IsDoubleQuotedWithQuotesDoubled(string name, string expected)
    {
        Assert.Equal(expected, PostgresDriver.QuoteIdent(name));
    }

    [Theory]
    [InlineData("abc", "'abc'")]
    [InlineData("it's", "'it''s'")]
    [InlineData(@"back\slash'", @"E'back\\slash'''")]
    public void QuoteLiteral_Value_IsEscaped(string value, string expected)
    {
        Assert.Equal(expected, PostgresDriver.QuoteLiteral(value));
    }

    [Fact]
    public void QuoteLiteral_Nul_Throws()
    {
        Assert.Throws<ArgumentException>(() => PostgresDriver.QuoteLiteral("a\0b"));
    }

    [Fact]
    public void ScramSha256Verifier_Rfc7677Vector_MatchesIndependentComputation()
    {
        // Expected value computed with Python's hashlib/hmac for password "pencil" and the RFC 7677 salt.
        var salt = Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ==");
        Assert.Equal(
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
            PostgresDriver.ScramSha256Verifier("pencil", salt));
    }
}
