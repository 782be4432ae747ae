using Portal.Provisioning.Oidc;

namespace Portal.Provisioning.Tests.Oidc;

/// <summary>
/// The names of the oidc driver's OpenIddict clients. The driver itself works on the portal's own OIDC server,
/// so its rotation is tested with the app host in Portal.Integration.Tests (OidcFlowTests).
/// </summary>
public sealed class OidcNamesTests
{
    private static readonly Guid Id = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");

    [Fact]
    public void Client_GenerationZero_IsTheClientIdBindingsHadBeforeRotation()
    {
        Assert.Equal("pb_0f8fad5bd9cb469fa16570867728950e", OidcNames.Client(Id));
        Assert.Equal(OidcNames.Client(Id), OidcNames.Client(Id, 0));
        Assert.True(OidcNames.IsClientOf(OidcNames.Client(Id), Id));
    }

    [Theory]
    [InlineData(1, "pb_0f8fad5bd9cb469fa16570867728950e_g1")]
    [InlineData(10, "pb_0f8fad5bd9cb469fa16570867728950e_g10")]
    [InlineData(int.MaxValue, "pb_0f8fad5bd9cb469fa16570867728950e_g2147483647")]
    public void Client_LaterGeneration_HasGenerationSuffixAndIsOfItsBinding(int generation, string clientId)
    {
        Assert.Equal(clientId, OidcNames.Client(Id, generation));
        Assert.StartsWith(OidcNames.ClientPrefix, clientId, StringComparison.Ordinal);
        Assert.True(OidcNames.IsClientOf(clientId, Id));
        Assert.False(OidcNames.IsClientOf(clientId, Guid.NewGuid()));
    }

    [Fact]
    public void Client_NegativeGeneration_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => OidcNames.Client(Id, -1));

    [Theory]
    [InlineData("pb_0f8fad5bd9cb469fa16570867728950e_g0")]
    [InlineData("pb_0f8fad5bd9cb469fa16570867728950e_g01")]
    [InlineData("pb_0f8fad5bd9cb469fa16570867728950e_g")]
    [InlineData("pb_0f8fad5bd9cb469fa16570867728950e_g1x")]
    [InlineData("pb_0f8fad5bd9cb469fa16570867728950e_g99999999999")]
    [InlineData("pb_0f8fad5bd9cb469fa16570867728950e-g1")]
    [InlineData("pb_0f8fad5bd9cb469fa16570867728950e0")]
    [InlineData("pb_0f8fad5bd9cb469fa16570867728950f")]
    [InlineData("PB_0f8fad5bd9cb469fa16570867728950e")]
    public void IsClientOf_AnythingElse_False(string clientId) => Assert.False(OidcNames.IsClientOf(clientId, Id));
}
