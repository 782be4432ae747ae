using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using OpenIddict.Abstractions;
using Portal.Application.Teams;
using Portal.Domain.Access;

namespace Portal.Application.Accounts;

/// <param name="ClientId">Set for platform service accounts: the OIDC client id they get tokens with.</param>
public sealed record UserView(Guid Id, string Email, string DisplayName, bool IsPlatformAdmin, DateTimeOffset CreatedAt, string? ClientId = null)
{
    public bool IsApprover { get; init; }
}

public sealed record CreateUser(string Email, string DisplayName, bool IsPlatformAdmin);

/// <summary>The first password is shown once, to the admin who made the account, to hand over.</summary>
public sealed record UserCreated(UserView User, string Password);

/// <summary>
/// People's local accounts and platform service accounts (team service accounts are listed with their
/// teams). Platform admins only.
/// </summary>
public sealed class ListUsersHandler(IDbContextFactory<PortalDbContext> dbFactory, UserManager<PortalUser> users)
{
    public async Task<IReadOnlyList<UserView>> HandleAsync(Actor actor, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var admins = (await users.GetUsersInRoleAsync(PlatformRoles.Admin)).Select(u => u.Id).ToHashSet();
        var approvers = (await users.GetUsersInRoleAsync(PlatformRoles.Approver)).Select(u => u.Id).ToHashSet();
        var accounts = await db.Users.AsNoTracking()
            .Where(u => u.ClientId == null || !db.TeamMembers.Any(m => m.UserId == u.Id))
            .OrderBy(u => u.ClientId != null).ThenBy(u => u.Email).ThenBy(u => u.UserName)
            .ToListAsync(ct);
        return accounts.Select(u => new UserView(u.Id, u.Email ?? "", u.DisplayName, admins.Contains(u.Id), u.CreatedAt, u.ClientId)
        {
            IsApprover = approvers.Contains(u.Id),
        }).ToList();
    }
}

/// <summary>Creates a local account with a generated password. Platform admins only.</summary>
public sealed class CreateUserHandler(UserManager<PortalUser> users, AuditWriter audit, TimeProvider clock)
{
    public async Task<UserCreated> HandleAsync(Actor actor, CreateUser request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        var email = request.Email?.Trim() ?? "";
        var name = request.DisplayName?.Trim() ?? "";
        new Validator()
            .Require(System.Net.Mail.MailAddress.TryCreate(email, out var parsed) && parsed.Address == email, "email", "Give a valid e-mail address.")
            .Require(name.Length is >= 2 and <= 100, "displayName", "Give a display name of 2 to 100 characters.")
            .ThrowIfInvalid();
        if (await users.FindByEmailAsync(email) is not null || await users.FindByNameAsync(email) is not null)
        {
            throw new ConflictException($"An account with the e-mail address '{email}' exists already.");
        }

        var user = new PortalUser { UserName = email, Email = email, EmailConfirmed = true, DisplayName = name, CreatedAt = clock.GetUtcNow() };
        var password = RandomNumberGenerator.GetString("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 20);
        Check(await users.CreateAsync(user, password));
        if (request.IsPlatformAdmin)
        {
            Check(await users.AddToRoleAsync(user, PlatformRoles.Admin));
        }

        await audit.WriteAsync(actor, "account.created", "account", user.Id, details: $"{email}{(request.IsPlatformAdmin ? ", platform-admin" : "")}", ct: ct);
        return new UserCreated(new UserView(user.Id, email, name, request.IsPlatformAdmin, user.CreatedAt), password);
    }

    internal static void Check(IdentityResult result)
    {
        if (!result.Succeeded)
        {
            throw new ValidationException(new Dictionary<string, string[]> { ["email"] = result.Errors.Select(e => e.Description).ToArray() });
        }
    }
}

public sealed record CreatePlatformServiceAccount(string Name);

/// <summary>
/// A service account with the platform-admin role and no team, for the platform team's own automation
/// (registering backends, managing offerings and accounts through the API). Platform admins only.
/// </summary>
public sealed class CreatePlatformServiceAccountHandler(
    UserManager<PortalUser> users, IOpenIddictApplicationManager applications, AuditWriter audit, TimeProvider clock)
{
    public async Task<ServiceAccountCreated> HandleAsync(Actor actor, CreatePlatformServiceAccount request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        var name = request.Name?.Trim() ?? "";
        new Validator().Require(name.Length is >= 2 and <= 60, "name", "Give the service account a name of 2 to 60 characters.").ThrowIfInvalid();
        var created = await ServiceAccountFactory.CreateAsync(applications, name, "platform", PlatformRoles.Admin, clock.GetUtcNow(), async user =>
        {
            CreateUserHandler.Check(await users.CreateAsync(user));
            CreateUserHandler.Check(await users.AddToRoleAsync(user, PlatformRoles.Admin));
        }, ct);
        await audit.WriteAsync(actor, "account.platform-service-account-created", "account", created.UserId, details: created.ClientId, ct: ct);
        return created;
    }
}

/// <summary>Deletes an account (a person or a service account, with its OIDC client). Platform admins only.</summary>
public sealed class DeleteUserHandler(UserManager<PortalUser> users, IOpenIddictApplicationManager applications, AuditWriter audit)
{
    public async Task HandleAsync(Actor actor, Guid userId, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        if (userId == actor.UserId)
        {
            throw new ConflictException("You cannot delete your own account.");
        }

        var user = await users.FindByIdAsync(userId.ToString()) ?? throw new NotFoundException("Account");
        if (user.ClientId is not null && await applications.FindByClientIdAsync(user.ClientId, ct) is { } app)
        {
            await applications.DeleteAsync(app, ct);
        }

        CreateUserHandler.Check(await users.DeleteAsync(user));
        await audit.WriteAsync(actor, "account.deleted", "account", user.Id, details: user.ClientId ?? user.Email, ct: ct);
    }
}

public sealed record ChangePassword(string CurrentPassword, string NewPassword);

/// <summary>Changes the signed-in person's own password (e.g. the generated first one).</summary>
public sealed class ChangePasswordHandler(UserManager<PortalUser> users, AuditWriter audit)
{
    public async Task HandleAsync(Actor actor, ChangePassword request, CancellationToken ct = default)
    {
        var user = await users.FindByIdAsync(actor.UserId.ToString());
        if (user is null || user.IsServiceAccount)
        {
            throw new ForbiddenException("Only people with a local account have a password to change.");
        }

        new Validator()
            .Require(!string.IsNullOrEmpty(request.CurrentPassword), "currentPassword", "Enter your current password.")
            .Require((request.NewPassword?.Length ?? 0) >= 12, "newPassword", "The new password needs at least 12 characters.")
            .ThrowIfInvalid();
        var result = await users.ChangePasswordAsync(user, request.CurrentPassword, request.NewPassword!);
        await audit.WriteAsync(actor, "account.password-changed", "account", user.Id,
            outcome: result.Succeeded ? Portal.Domain.Audit.AuditOutcomes.Success : Portal.Domain.Audit.AuditOutcomes.Failure, ct: ct);
        if (!result.Succeeded)
        {
            var wrongPassword = result.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.PasswordMismatch));
            throw new ValidationException(new Dictionary<string, string[]>
            {
                [wrongPassword ? "currentPassword" : "newPassword"] = wrongPassword
                    ? ["The current password is not right."]
                    : result.Errors.Select(e => e.Description).ToArray(),
            });
        }
    }
}

/// <summary>Sets an account's platform roles (platform-admin, approver). Platform admins only.</summary>
public sealed class SetPlatformRolesHandler(UserManager<PortalUser> users, AuditWriter audit)
{
    public async Task<UserView> HandleAsync(Actor actor, Guid userId, IReadOnlyCollection<string> roles, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        new Validator()
            .Require(roles.All(PlatformRoles.All.Contains), "platformRoles", $"Platform roles are {string.Join(", ", PlatformRoles.All)}.")
            .Require(userId != actor.UserId || roles.Contains(PlatformRoles.Admin), "platformRoles", "You cannot take your own platform-admin role.")
            .ThrowIfInvalid();
        var user = await users.FindByIdAsync(userId.ToString()) ?? throw new NotFoundException("Account");
        var current = await users.GetRolesAsync(user);
        CreateUserHandler.Check(await users.RemoveFromRolesAsync(user, current.Except(roles)));
        CreateUserHandler.Check(await users.AddToRolesAsync(user, roles.Except(current)));
        await audit.WriteAsync(actor, "account.roles-set", "account", user.Id, details: $"{user.Email ?? user.UserName}: {string.Join(", ", roles)}", ct: ct);
        return new UserView(user.Id, user.Email ?? "", user.DisplayName, roles.Contains(PlatformRoles.Admin), user.CreatedAt, user.ClientId)
        {
            IsApprover = roles.Contains(PlatformRoles.Approver),
        };
    }
}
