using System.Data.Common;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RevenueLedger.EventStore;
using RevenueLedger.Hosting;

namespace RevenueLedger.Gateway;

/// <summary>
/// Learns the read models' position from the database when no projector runs in this process: every poll interval,
/// and faster while a request waits for a position. With a broker, <see cref="ReadModelAdvanced"/> brings the news and
/// the waiting requests are polled for only once a second, as a safety net.
/// </summary>
public sealed class ReadModelPoller(LedgerStores stores, ReadModelWatcher watcher, HostSettings settings, ProjectorLease projector, ILogger<ReadModelPoller> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Components.HasFlag(LedgerComponents.Gateway)) return;
        var waiterPoll = settings.RabbitMq is null ? TimeSpan.FromMilliseconds(50) : TimeSpan.FromSeconds(1);
        var last = DateTime.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var since = DateTime.UtcNow - last;
                // An active in-process projector publishes every step itself; polling as well would be work done twice.
                // A standby one publishes nothing, so this process's gateway polls like any other.
                if (projector.Active) last = DateTime.UtcNow;
                else if (since >= settings.ReadModelPoll || (watcher.HasWaiters && since >= waiterPoll))
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
                logger.LogWarning("read-model poller: the store failed ({Error}); retrying", ex.Message);
                stores.OnFailure(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }
}
