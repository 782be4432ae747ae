using System.Text.Json;

namespace Portal.Provisioning.Http;

/// <summary>Reading backend API answers, which drivers read loosely: a missing or non-string property is empty.</summary>
internal static class JsonText
{
    /// <summary>The string value of <paramref name="property"/> of an object; empty when there is none.</summary>
    public static string Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString() ?? ""
            : "";
}
