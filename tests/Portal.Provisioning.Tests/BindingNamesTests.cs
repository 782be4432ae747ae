using Portal.Provisioning.Etcd;
using Portal.Provisioning.Logging;
using Portal.Provisioning.Oidc;
using Portal.Provisioning.Postgres;
using Portal.Provisioning.RabbitMq;
using Portal.Provisioning.Redis;
using Portal.Provisioning.S3;

namespace Portal.Provisioning.Tests;

/// <summary>
/// Reading binding ids and generations back from backend names (what ObserveAsync reports), for every kind's names.
/// </summary>
public sealed class BindingNamesTests
{
    private static readonly Guid Id = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");
    private static readonly Guid Other = Guid.Parse("7c9e6679-7425-40de-944b-e07fc1f90ae7");
    private static readonly Guid InstanceId = Guid.Parse("a1b2c3d4-0000-4000-8000-000000000001");

    /// <summary>Each kind's name of a binding generation, and its parser.</summary>
    public static TheoryData<string, Func<Guid, int, string>, Func<string, BindingGeneration?>> Kinds => new()
    {
        { "postgresql", PostgresNames.BindingRole, PostgresNames.ParseBindingRole },
        { "rabbitmq", (b, g) => RabbitMqNames.BindingUser(InstanceId, b, g), u => RabbitMqNames.ParseBindingUser(u, InstanceId) },
        { "redis", RedisNames.BindingUser, RedisNames.ParseBindingUser },
        { "etcd", (b, g) => EtcdNames.BindingUser(InstanceId, b, g), u => EtcdNames.ParseBindingUser(u, InstanceId) },
        { "s3", S3Names.BindingAccessKeyId, S3Names.ParseBindingAccessKeyId },
        { "logging", LoggingNames.BindingKey, LoggingNames.ParseBindingKey },
        { "oidc", OidcNames.Client, OidcNames.ParseClient },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Parse_NameOfAGeneration_GivesBindingAndGeneration(
        string kind, Func<Guid, int, string> name, Func<string, BindingGeneration?> parse)
    {
        foreach (var generation in new[] { 0, 1, 9, 10, int.MaxValue })
        {
            Assert.True(parse(name(Id, generation)) == new BindingGeneration(Id, generation), $"{kind} generation {generation}");
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Parse_AnythingElse_Null(string kind, Func<Guid, int, string> name, Func<string, BindingGeneration?> parse)
    {
        var gen1 = name(Id, 1);
        var mark = gen1[..^1][name(Id, 0).Length..];
        string[] others =
        [
            "",
            name(Id, 0)[..^1],
            name(Id, 0) + "0",
            name(Id, 0) + mark,
            name(Id, 0) + mark + "0",
            name(Id, 0) + mark + "01",
            name(Id, 0) + mark + "1x",
            name(Id, 0) + mark + "99999999999",
            name(Id, 0) + mark + "-1",
            SwapCase(name(Id, 0)),
        ];

        foreach (var other in others)
        {
            Assert.True(parse(other) is null, $"{kind}: '{other}'");
        }

        Assert.True(parse(name(Other, 0))?.BindingId == Other, kind);
    }

    [Fact]
    public void Parse_UpperCaseId_OnlyWhereTheKindWritesIt()
    {
        Assert.Equal(new BindingGeneration(Id, 2), BindingNames.Parse("PB0F8FAD5BD9CB469FA16570867728950EG2", "PB", "G", upperCaseId: true));
        Assert.Null(BindingNames.Parse("PB0f8fad5bd9cb469fa16570867728950eG2", "PB", "G", upperCaseId: true));
        Assert.Null(BindingNames.Parse("pb_0F8FAD5BD9CB469FA16570867728950E", "pb_", "_g"));
    }

    [Fact]
    public void Generations_SeveralNames_GroupedByBindingAndNonBindingsLeftOut()
    {
        var found = BindingNames.Generations(
        [
            new BindingGeneration(Id, 0), null, new BindingGeneration(Id, 2), new BindingGeneration(Other, 0), new BindingGeneration(Id, 2),
        ]);

        Assert.Equal(2, found.Count);
        Assert.Equal([0, 2], found[Id].Order());
        Assert.Equal([0], found[Other]);
    }

    private static string SwapCase(string text) =>
        string.Concat(text.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)));
}
