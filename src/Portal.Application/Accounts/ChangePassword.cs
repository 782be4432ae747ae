using Microsoft.AspNetCore.Identity;
using Portal.Application.Access;
using Portal.Application.Audit;
using Portal.Application.Common;
using Portal.Data;

namespace Portal.Application.Accounts;

public sealed record ChangePassword([Text(1000)] string CurrentPassword, [Text(1000)] string NewPassword);

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
            .Input(request)
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
