using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Portal.Testing;

/// <summary>
/// A logger provider that keeps the lines (level, category, message, exception) a host logs, for tests that read them:
/// all of them, or only those <paramref name="keep"/> accepts, and at most the last <paramref name="limit"/>.
/// </summary>
public sealed class LogCapture(Func<string, LogLevel, bool>? keep = null, int limit = int.MaxValue) : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        Lines.Enqueue(line);
        while (Lines.Count > limit && Lines.TryDequeue(out _))
        {
        }
    }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => capture.Accepts(category, logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                capture.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)} {exception}");
            }
        }
    }

    private bool Accepts(string category, LogLevel level) => level != LogLevel.None && (keep?.Invoke(category, level) ?? true);
}
