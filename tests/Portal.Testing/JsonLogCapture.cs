using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Portal.Testing;

/// <summary>
/// The lines a host would write with <c>Logging:Console:FormatterName=json</c> and scopes on: the framework's own JSON
/// console formatter writes each entry, with the host's scopes (trace and span ids included), into memory instead of
/// the console.
/// </summary>
public sealed class JsonLogCapture : ILoggerProvider, ISupportExternalScope
{
    private readonly ConsoleFormatter _formatter;
    private readonly ServiceProvider _formatterServices;
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public JsonLogCapture()
    {
        _formatterServices = new ServiceCollection()
            .AddLogging(logging => logging.AddJsonConsole(o => o.IncludeScopes = true))
            .BuildServiceProvider();
        _formatter = _formatterServices.GetServices<ConsoleFormatter>().Single(f => f.Name == ConsoleFormatterNames.Json);
    }

    public ConcurrentQueue<string> Lines { get; } = new();

    /// <summary>
    /// Every string in every line (property names and values) with JSON's escapes undone, so a search finds a secret
    /// whose characters the writer escaped (<c>+</c> becomes <c>\u002B</c>).
    /// </summary>
    public string DecodedText()
    {
        var text = new System.Text.StringBuilder();
        foreach (var line in Lines)
        {
            using var document = JsonDocument.Parse(line);
            Collect(document.RootElement, text);
        }

        return text.ToString();
    }

    private static void Collect(JsonElement element, System.Text.StringBuilder text)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    text.Append(property.Name).Append(' ');
                    Collect(property.Value, text);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Collect(item, text);
                }

                break;
            case JsonValueKind.String:
                text.Append(element.GetString()).Append('\n');
                break;
            default:
                text.Append(element.GetRawText()).Append('\n');
                break;
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() => _formatterServices.Dispose();

    private sealed class Logger(JsonLogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => capture._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            using var writer = new StringWriter();
            capture._formatter.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), capture._scopes, writer);
            foreach (var line in writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                capture.Lines.Enqueue(line);
            }
        }
    }
}
