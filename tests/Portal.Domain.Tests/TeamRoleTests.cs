using Portal.Domain.Access;

namespace Portal.Domain.Tests;

public sealed class TeamRoleTests
{
    [Theory]
    [InlineData(TeamRole.Viewer, TeamPermission.View, true)]
    [InlineData(TeamRole.Viewer, TeamPermission.Deploy, false)]
    [InlineData(TeamRole.Viewer, TeamPermission.ReadSecrets, false)]
    [InlineData(TeamRole.Viewer, TeamPermission.ManageTeam, false)]
    [InlineData(TeamRole.Developer, TeamPermission.View, true)]
    [InlineData(TeamRole.Developer, TeamPermission.Deploy, true)]
    [InlineData(TeamRole.Developer, TeamPermission.ReadSecrets, true)]
    [InlineData(TeamRole.Developer, TeamPermission.ManageTeam, false)]
    [InlineData(TeamRole.Owner, TeamPermission.View, true)]
    [InlineData(TeamRole.Owner, TeamPermission.Deploy, true)]
    [InlineData(TeamRole.Owner, TeamPermission.ReadSecrets, true)]
    [InlineData(TeamRole.Owner, TeamPermission.ManageTeam, true)]
    public void Allows_RoleAndPermission_MatchesMatrix(TeamRole role, TeamPermission permission, bool expected) =>
        Assert.Equal(expected, role.Allows(permission));

    [Fact]
    public void Allows_RolePermissionMatrix_CoversEveryRoleAndPermission()
    {
        // The matrix above has 3 roles x 4 permissions; a new enum member needs a row there.
        Assert.Equal(3, Enum.GetValues<TeamRole>().Length);
        Assert.Equal(4, Enum.GetValues<TeamPermission>().Length);
    }

    [Theory]
    [InlineData(TeamRole.Viewer)]
    [InlineData(TeamRole.Developer)]
    [InlineData(TeamRole.Owner)]
    public void Allows_UnknownPermission_ReturnsFalse(TeamRole role) =>
        Assert.False(role.Allows((TeamPermission)99));

    [Theory]
    [InlineData(TeamRole.Viewer, "viewer")]
    [InlineData(TeamRole.Developer, "developer")]
    [InlineData(TeamRole.Owner, "owner")]
    public void ToWire_EachRole_ReturnsLowercaseName(TeamRole role, string expected) =>
        Assert.Equal(expected, role.ToWire());

    [Theory]
    [InlineData(TeamRole.Viewer)]
    [InlineData(TeamRole.Developer)]
    [InlineData(TeamRole.Owner)]
    public void TryParse_WireForm_RoundTrips(TeamRole role)
    {
        Assert.True(TeamRoles.TryParse(role.ToWire(), out var parsed));
        Assert.Equal(role, parsed);
    }

    [Theory]
    [InlineData("viewer", TeamRole.Viewer)]
    [InlineData("Viewer", TeamRole.Viewer)]
    [InlineData("VIEWER", TeamRole.Viewer)]
    [InlineData("developer", TeamRole.Developer)]
    [InlineData("DeVeLoPeR", TeamRole.Developer)]
    [InlineData("owner", TeamRole.Owner)]
    [InlineData("OWNER", TeamRole.Owner)]
    public void TryParse_RoleNameInAnyCase_ReturnsRole(string value, TeamRole expected)
    {
        Assert.True(TeamRoles.TryParse(value, out var role));
        Assert.Equal(expected, role);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("admin")]
    [InlineData("platform-admin")]
    [InlineData("owners")]
    [InlineData("dev")]
    // Numbers are not role names, even when they are the value of one (Enum.TryParse accepts them).
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("2")]
    [InlineData("3")]
    [InlineData("-1")]
    [InlineData("+2")]
    // Enum.TryParse also reads comma-separated lists and ORs them: "viewer,owner" is 0 | 2 = Owner.
    [InlineData("viewer,owner")]
    [InlineData("viewer, developer")]
    public void TryParse_NotARoleName_ReturnsFalse(string? value) =>
        Assert.False(TeamRoles.TryParse(value, out _), $"'{value}' should not parse as a role");
}
