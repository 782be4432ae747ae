namespace Portal.Application.Accounts;

/// <param name="ClientId">Set for platform service accounts: the OIDC client id they get tokens with.</param>
public sealed record UserView(Guid Id, string Email, string DisplayName, bool IsPlatformAdmin, DateTimeOffset CreatedAt, string? ClientId = null)
{
    public bool IsApprover { get; init; }
}
