using RevenueLedger.Application.Projections;
using RevenueLedger.Hosting;

namespace RevenueLedger.Gateway;

/// <summary>
/// Runs one rebuild at a time in this process (queries keep reading the current generation until the new one has
/// caught up and is switched to). A rebuild is an operator's action, so its outcome is kept for GET and logged.
/// </summary>
public sealed class RebuildRunner(LedgerStores stores, IHostApplicationLifetime lifetime, ILogger<RebuildRunner> logger)
{
    private readonly Lock _lock = new();
    private RebuildStatus _status = new(false, null, null, null, null);

    public RebuildStatus Status
    {
        get
        {
            lock (_lock) return _status;
        }
    }

    /// <summary>The started rebuild's status, or null when one is already running.</summary>
    public RebuildStatus? TryStart()
    {
        lock (_lock)
        {
            if (_status.Running) return null;
            _status = new RebuildStatus(true, null, DateTimeOffset.UtcNow.ToString("O"), null, null);
        }
        _ = Task.Run(async () =>
        {
            try
            {
                int generation = await Projector.RebuildAsync(stores.Log, stores.ReadModels, ct: lifetime.ApplicationStopping);
                logger.LogInformation("rebuild finished: queries now read generation {Generation}", generation);
                lock (_lock) _status = _status with { Running = false, Generation = generation, FinishedAt = DateTimeOffset.UtcNow.ToString("O") };
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "rebuild failed; queries keep reading the current generation");
                lock (_lock) _status = _status with { Running = false, FinishedAt = DateTimeOffset.UtcNow.ToString("O"), Error = ex.Message };
            }
        });
        return Status;
    }
}
