using System.Data.Common;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RevenueLedger.Application.Projections;
using RevenueLedger.Contracts;
using RevenueLedger.EventStore;
using RevenueLedger.Hosting;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Projector;

/// <summary>
/// The projector inside a host: one active instance per store (a lease; the others stand by and take over when it
/// dies), woken by appends in this process and by <see cref="LedgerAdvanced"/> from others, with a slow poll as the
/// safety net. Commits are compare-and-swapped, so even an overlap during a takeover counts nothing twice.
/// </summary>
public sealed class ProjectorService(
    LedgerStores stores, LedgerSignals signals, ReadModelWatcher watcher, Announcer<ReadModelAdvanced> announcer, HostSettings settings,
    ProjectorLease lease, ILogger<ProjectorService> logger)
    : BackgroundService
{
    /// <summary>Most trace contexts a step continues (each a small span); the rest of a large step is not traced.</summary>
    private const int MaxTracedPerStep = 100;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        settings.Components.HasFlag(LedgerComponents.Projector)
            ? LeasedJob.RunAsync(stores.Uri, "projector", ProjectAsync, logger, stoppingToken, lease)
            : Task.CompletedTask;

    private async Task ProjectAsync(CancellationToken ct)
    {
        var projector = new Application.Projections.Projector(stores.Log, stores.ReadModels, fixedGeneration: null, settings.ProjectorStepEvents);
        var backoff = TimeSpan.FromSeconds(1);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                // Taken before looking at the log: an append that lands during the catch-up is not slept through.
                var woken = signals.WaitAsync(settings.ProjectorPoll, ct);
                long position = await projector.CatchUpAsync(StepCommittedAsync, ct);
                watcher.Publish(projector.Generation, position);
                if (LedgerTelemetry.ProjectionLagObserved)
                    LedgerTelemetry.ProjectionLag(Math.Max(0, (await stores.Log.GetHeadAsync(ct)).Position - position));
                backoff = TimeSpan.FromSeconds(1);
                await woken;
            }
            catch (Exception ex) when (ex is DbException or IOException or TimeoutException && !ct.IsCancellationRequested)
            {
                logger.LogWarning("projector: the store failed ({Error}); retrying in {Seconds} s", ex.Message, backoff.TotalSeconds);
                stores.OnFailure(ex);
                await Task.Delay(backoff, ct);
                backoff = TimeSpan.FromSeconds(Math.Min(30, backoff.TotalSeconds * 2));
            }
        }
    }

    private async Task StepCommittedAsync(int generation, long from, long to)
    {
        watcher.Publish(generation, to);
        announcer.Announce(new ReadModelAdvanced(generation, to));
        if (LedgerTelemetry.ProjectionLagObserved)
            await foreach (var last in stores.Log.ReadAllAsync(to, to))
                LedgerTelemetry.ProjectionLagTime(Math.Max(0, (DateTimeOffset.UtcNow - last.RecordedAtUtc).TotalSeconds));
        if (!LedgerTelemetry.Source.HasListeners()) return;
        // The step is one fold; each traced submission in it gets a span in its own trace, so a trace shows when
        // its event reached the read models.
        foreach (var (position, context) in await stores.Log.TraceContextsAsync(from, to, MaxTracedPerStep))
        {
            using var span = LedgerTelemetry.StartContinuing("ledger.project", ActivityKind.Consumer, context);
            span?.SetTag("ledger.position", position);
            span?.SetTag("ledger.generation", generation);
            span?.SetTag("ledger.step.from", from);
            span?.SetTag("ledger.step.to", to);
        }
    }
}
