using System.Buffers;
using System.Security.Cryptography;

namespace Portal.Provisioning;

/// <summary>Generates secrets for backend credentials.</summary>
public static class SecretGenerator
{
    // Alphanumeric only: safe in URIs, connection strings, shell snippets and SQL literals without escaping.
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private static readonly SearchValues<char> AlphabetValues = SearchValues.Create(Alphabet);

    /// <summary>Default password length: 32 chars of 62 symbols is about 190 bits of entropy.</summary>
    public const int DefaultLength = 32;

    /// <summary>Returns a cryptographically random alphanumeric password.</summary>
    public static string Password(int length = DefaultLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 16);
        return RandomNumberGenerator.GetString(Alphabet, length);
    }

    /// <summary>True for a secret <see cref="Password"/> could have made: alphanumeric, 16 to 128 characters.</summary>
    public static bool IsPassword(string? value) =>
        value is { Length: >= 16 and <= 128 } && !value.AsSpan().ContainsAnyExcept(AlphabetValues);
}
