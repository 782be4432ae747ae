namespace Portal.Application.Teams;

public sealed record TeamSummary(Guid Id, string Slug, string Name, string? MyRole, int MemberCount);

public sealed record TeamMemberView(Guid UserId, string Email, string DisplayName, string Role, bool IsServiceAccount, string? ClientId);

public sealed record TeamDetails(Guid Id, string Slug, string Name, string? MyRole, IReadOnlyList<TeamMemberView> Members);

/// <summary>The client secret is shown once, here, and stored only as a hash by OpenIddict.</summary>
public sealed record ServiceAccountCreated(Guid UserId, string Name, string Role, string ClientId, string ClientSecret, string TokenEndpoint);
