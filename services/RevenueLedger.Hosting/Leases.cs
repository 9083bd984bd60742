using System.Data.Common;
using Microsoft.Extensions.Logging;
using RevenueLedger.Application;
using RevenueLedger.Storage;

namespace RevenueLedger.Hosting;

/// <summary>Runs a singleton job while holding its lease; a standby retries every second, logging once that it waits.</summary>
public static class LeasedJob
{
    public static async Task RunAsync(StoreUri store, string name, Func<CancellationToken, Task> job, ILogger logger, CancellationToken stoppingToken, LeaseState? state = null)
    {
        bool waiting = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            ILease? lease;
            try
            {
                lease = await store.TryAcquireLeaseAsync(name, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is DbException or IOException or TimeoutException)
            {
                logger.LogWarning("{Job}: the store does not answer ({Error}); retrying", name, ex.Message);
                lease = null;
            }
            if (lease is null)
            {
                if (!waiting) logger.LogInformation("{Job}: standby (another instance is active)", name);
                waiting = true;
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            waiting = false;
            await using (lease)
            {
                if (state is not null) state.Active = true;
                logger.LogInformation("{Job}: active", name);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lease.Lost);
                try
                {
                    await job(linked.Token);
                }
                catch (OperationCanceledException) when (linked.IsCancellationRequested)
                {
                    // stopping, or the lease was lost
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Whatever the job did not handle (often a query cut off with the lease's connection): the process
                    // stays up, gives the lease back and competes for it again.
                    logger.LogError(ex, "{Job}: failed; releasing the lease and retrying", name);
                    await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                }
                if (state is not null) state.Active = false;
                if (lease.Lost.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
                    logger.LogWarning("{Job}: lease lost; trying to take it again", name);
            }
        }
    }
}

/// <summary>Whether this process holds a job's lease right now (the projector's: then its gateway needs no poll).</summary>
public class LeaseState
{
    private volatile bool _active;

    public bool Active
    {
        get => _active;
        set => _active = value;
    }
}

/// <summary>Whether this process's projector holds the lease (is the one projecting).</summary>
public sealed class ProjectorLease : LeaseState;
