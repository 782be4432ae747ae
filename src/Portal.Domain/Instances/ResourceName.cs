using System.Text.RegularExpressions;

namespace Portal.Domain.Instances;

/// <summary>
/// Names people give instances and bindings: lowercase letters, digits and single hyphens, 3 to 40
/// characters, starting with a letter. They are labels only; backend names derive from ids.
/// </summary>
public static partial class ResourceName
{
    public const string Rule = "3-40 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen";

    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    [GeneratedRegex("^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,39}\\z")]
    private static partial Regex Pattern();
}
