using System.Data.Common;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RevenueLedger.Application.Projections;

namespace RevenueLedger.Hosting;

/// <summary>
/// The projector inside a host (<c>ledger serve</c>): catches up when this process appends, and polls for appends made
/// by other processes. Commits are compare-and-swapped, so a separate projector process may run as well.
/// </summary>
public sealed class ProjectorService(LedgerStores stores, LedgerSignals signals, ReadModelWatcher watcher, HostSettings settings, ILogger<ProjectorService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Components.HasFlag(LedgerComponents.Projector)) return;
        var projector = new Projector(stores.Log, stores.ReadModels);
        var backoff = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                long position = await projector.CatchUpAsync(stoppingToken);
                watcher.Publish(projector.Generation, position);
                backoff = TimeSpan.FromSeconds(1);
                await signals.WaitAsync(settings.ProjectorPoll, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is DbException or IOException or TimeoutException)
            {
                logger.LogWarning(ex, "projector: the store failed; retrying in {Seconds} s", backoff.TotalSeconds);
                await Task.Delay(backoff, stoppingToken);
                backoff = TimeSpan.FromSeconds(Math.Min(30, backoff.TotalSeconds * 2));
            }
        }
    }
}

/// <summary>
/// Learns the read models' position from the database when no projector runs in this process: every second,
/// and every 50 ms while a request waits for a position.
/// </summary>
public sealed class ReadModelPoller(LedgerStores stores, ReadModelWatcher watcher, HostSettings settings, ILogger<ReadModelPoller> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // An in-process projector publishes every step itself; polling the database as well would be work done twice.
        if (!settings.Components.HasFlag(LedgerComponents.Gateway) || settings.Components.HasFlag(LedgerComponents.Projector)) return;
        var last = DateTime.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                bool due = DateTime.UtcNow - last >= settings.ReadModelPoll;
                if (due || watcher.HasWaiters)
                {
                    int generation = await stores.ReadModels.CurrentGenerationAsync(stoppingToken);
                    watcher.Publish(generation, await stores.ReadModels.CheckpointAsync(generation, stoppingToken));
                    last = DateTime.UtcNow;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(50), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is DbException or IOException or TimeoutException)
            {
                logger.LogWarning(ex, "read-model poller: the store failed; retrying");
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }
}
