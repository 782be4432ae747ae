using Microsoft.AspNetCore.Identity;
using Portal.Application.Common;

namespace Portal.Application.Accounts;

/// <summary>What the account handlers do with the results of ASP.NET Core Identity's user manager.</summary>
internal static class IdentityResults
{
    /// <summary>Throws a failed result's errors as a validation error on <c>email</c>.</summary>
    public static void Check(IdentityResult result)
    {
        if (!result.Succeeded)
        {
            throw new ValidationException(new Dictionary<string, string[]> { ["email"] = result.Errors.Select(e => e.Description).ToArray() });
        }
    }
}
