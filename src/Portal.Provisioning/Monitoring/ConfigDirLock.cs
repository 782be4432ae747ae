using System.Diagnostics;

namespace Portal.Provisioning.Monitoring;

/// <summary>
/// Serialises the driver's changes to one config directory, across threads and processes: an exclusive lock on
/// <c>.portal-driver.lock</c> in the directory (on Linux, .NET implements <see cref="FileShare.None"/> with
/// <c>flock</c>, which the kernel releases when the process dies, so a crash leaves no stale lock).
/// </summary>
/// <remarks>
/// Needed because <c>alertmanager.yml</c> is rendered whole from all fragments (two writers could each drop the
/// other's route), and because a Prometheus reload must not race a target file removal (see <see cref="MonitoringFiles"/>).
/// </remarks>
internal sealed class ConfigDirLock : IDisposable
{
    public const string FileName = ".portal-driver.lock";

    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(50);

    private readonly FileStream _stream;

    private ConfigDirLock(FileStream stream) => _stream = stream;

    /// <summary>Waits for the lock; throws <see cref="TimeoutException"/> when another writer holds it too long.</summary>
    public static async Task<ConfigDirLock> AcquireAsync(string configDir, TimeSpan timeout, CancellationToken ct)
    {
        var path = Path.Combine(configDir, FileName);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new ConfigDirLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (clock.Elapsed < timeout && Directory.Exists(configDir))
            {
                await Task.Delay(RetryDelay, ct);
            }
            catch (IOException e) when (Directory.Exists(configDir))
            {
                throw new TimeoutException(
                    $"Another change to {configDir} held {FileName} for over {timeout.TotalSeconds:0} s.", e);
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
