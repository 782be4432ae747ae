namespace Portal.Application.Teams;

public sealed record TeamSummary(Guid Id, string Slug, string Name, string? MyRole, int MemberCount);

public sealed record TeamMemberView(Guid UserId, string Email, string DisplayName, string Role, bool IsServiceAccount, string? ClientId);

public sealed record TeamDetails(Guid Id, string Slug, string Name, string? MyRole, IReadOnlyList<TeamMemberView> Members);
