using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;
using Portal.Domain.Access;

namespace Portal.Application.Accounts;

public sealed record CreateUser([Text(254)] string Email, string DisplayName, bool IsPlatformAdmin);

/// <summary>The first password is shown once, to the admin who made the account, to hand over.</summary>
public sealed record UserCreated(UserView User, string Password);

/// <summary>Creates a local account with a generated password. Platform admins only.</summary>
public sealed class CreateUserHandler(UserManager<PortalUser> users, AuditWriter audit, TimeProvider clock)
{
    public async Task<UserCreated> HandleAsync(Actor actor, CreateUser request, CancellationToken ct = default)
    {
        actor.RequirePlatformAdmin();
        var email = request.Email?.Trim() ?? "";
        var name = request.DisplayName?.Trim() ?? "";
        new Validator()
            .Input(request)
            .Require(System.Net.Mail.MailAddress.TryCreate(email, out var parsed) && parsed.Address == email, "email", "Give a valid e-mail address.")
            .Require(name.Length is >= 2 and <= 100, "displayName", "Give a display name of 2 to 100 characters.")
            .ThrowIfInvalid();
        if (await users.FindByEmailAsync(email) is not null || await users.FindByNameAsync(email) is not null)
        {
            throw new ConflictException($"An account with the e-mail address '{email}' exists already.");
        }

        var user = new PortalUser { UserName = email, Email = email, EmailConfirmed = true, DisplayName = name, CreatedAt = clock.GetUtcNow() };
        var password = RandomNumberGenerator.GetString("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 20);
        IdentityResults.Check(await users.CreateAsync(user, password));
        if (request.IsPlatformAdmin)
        {
            IdentityResults.Check(await users.AddToRoleAsync(user, PlatformRoles.Admin));
        }

        await audit.WriteAsync(actor, "account.created", "account", user.Id, details: $"{email}{(request.IsPlatformAdmin ? ", platform-admin" : "")}", ct: ct);
        return new UserCreated(new UserView(user.Id, email, name, request.IsPlatformAdmin, user.CreatedAt), password);
    }
}
