namespace Portal.Application.Common;

/// <summary>
/// A refusal the user should see: the API answers it as Problem Details (RFC 9457) with the status
/// given here, the pages as a message. Nothing has been changed when one is thrown.
/// </summary>
public abstract class PortalException(string title, string detail) : Exception(detail)
{
    public string Title { get; } = title;

    public abstract int StatusCode { get; }
}

public sealed class NotFoundException(string what)
    : PortalException("Not found", $"{what} was not found.")
{
    public override int StatusCode => 404;
}

/// <summary>A credential other than the sign-in (e.g. a binding's read token) was not accepted; nothing said about why.</summary>
public sealed class UnauthorizedException(string detail)
    : PortalException("Unauthorized", detail)
{
    public override int StatusCode => 401;
}

public sealed class ForbiddenException(string detail)
    : PortalException("Forbidden", detail)
{
    public override int StatusCode => 403;
}

public sealed class ConflictException(string detail)
    : PortalException("Conflict", detail)
{
    public override int StatusCode => 409;
}

/// <summary>Bad input: one or more fields with what is wrong with each.</summary>
public sealed class ValidationException(IReadOnlyDictionary<string, string[]> errors)
    : PortalException("The request is not valid", string.Join(" ", errors.SelectMany(e => e.Value)))
{
    public IReadOnlyDictionary<string, string[]> Errors { get; } = errors;

    public override int StatusCode => 400;

    public static ValidationException For(string field, string message) =>
        new(new Dictionary<string, string[]> { [field] = [message] });
}

/// <summary>Collects field errors and throws them together.</summary>
public sealed class Validator
{
    private readonly Dictionary<string, List<string>> _errors = [];

    public Validator Require(bool condition, string field, string message)
    {
        if (!condition)
        {
            (_errors.TryGetValue(field, out var list) ? list : _errors[field] = []).Add(message);
        }

        return this;
    }

    public void ThrowIfInvalid()
    {
        if (_errors.Count > 0)
        {
            throw new ValidationException(_errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        }
    }
}
