using System.Data.Common;
using System.Diagnostics;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RevenueLedger.Application.Projections;
using RevenueLedger.Contracts;
using RevenueLedger.Domain;
using RevenueLedger.EventStore;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Hosting;

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
        var projector = new Projector(stores.Log, stores.ReadModels, fixedGeneration: null, settings.ProjectorStepEvents);
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

/// <summary>Whether this process's projector holds the lease (is the one projecting).</summary>
public sealed class ProjectorLease : LeaseState;

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

/// <summary>
/// The outbox is the log: publishes <see cref="RevenueEventRecorded"/> for every event in position order, from a
/// cursor kept in the store, advanced only after the broker confirmed the publishes (at least once; consumers drop
/// repeats by position). One active relay per store (a lease), hosted by the ingestion service.
/// </summary>
public sealed class RelayService(LedgerStores stores, IBus bus, LedgerSignals signals, HostSettings settings, ILogger<RelayService> logger) : BackgroundService
{
    public const string CursorName = "relay";
    private const int Page = 500;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Components.HasFlag(LedgerComponents.Ingestion)) return Task.CompletedTask;
        if (settings.RabbitMq is null)
        {
            // Without a broker the bus is this process's memory, where no one consumes integration events: relaying
            // every event there cost as much CPU as storing it (measured under batch load), for nothing.
            logger.LogInformation("relay: off (no broker configured, so there is no one to publish integration events to)");
            return Task.CompletedTask;
        }
        return LeasedJob.RunAsync(stores.Uri, "relay", RelayAsync, logger, stoppingToken);
    }

    private async Task RelayAsync(CancellationToken ct)
    {
        var backoff = TimeSpan.FromSeconds(1);
        long? cursor = null; // kept here while this instance holds the lease; read again after a failure
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var woken = signals.WaitAsync(settings.ProjectorPoll, ct);
                cursor ??= await stores.ReadModels.CursorAsync(CursorName, ct);
                while (await RelayPageAsync(cursor.Value, ct) is { } next) cursor = next;
                backoff = TimeSpan.FromSeconds(1);
                await woken;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                // The broker or the store is away: nothing past the stored cursor counts as published; resume from it.
                cursor = null;
                logger.LogWarning("relay: {Error}; retrying in {Seconds} s", ex.Message, backoff.TotalSeconds);
                stores.OnFailure(ex);
                await Task.Delay(backoff, ct);
                backoff = TimeSpan.FromSeconds(Math.Min(30, backoff.TotalSeconds * 2));
            }
        }
    }

    /// <summary>Publishes the page after <paramref name="cursor"/>; returns the new cursor, or null when nothing was left.</summary>
    private async Task<long?> RelayPageAsync(long cursor, CancellationToken ct)
    {
        long head = (await stores.Log.GetHeadAsync(ct)).Position;
        LedgerTelemetry.RelayLag(head - cursor);
        if (head <= cursor) return null;
        long to = Math.Min(head, cursor + Page);
        var sends = new List<(long Position, Task Sent)>(Page);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await foreach (var e in stores.Log.ReadAllAsync(cursor + 1, to, ct))
        {
            using var span = e.TraceContext is null ? null : LedgerTelemetry.StartContinuing("ledger.relay", ActivityKind.Producer, e.TraceContext);
            span?.SetTag("ledger.position", e.Position);
            using var wire = JsonDocument.Parse(WireFormat.ToWireJson(e.Event));
            var message = new RevenueEventRecorded(e.Position, e.EventId, e.AccountId, EventTypes.WireNameOfStored(e.StoredType) ?? e.StoredType, e.RecordedAt, e.Hash, wire.RootElement.Clone());
            // Started in position order on one channel (the broker keeps that order); confirmed together, so a page
            // costs one round of confirms rather than one per event.
            sends.Add((e.Position, bus.Publish(message, timeout.Token)));
        }
        // The cursor moves only over the unbroken run of confirmed publishes: after a failure the page is resent
        // from the first unconfirmed event, never skipping one.
        long confirmed = cursor;
        Exception? failure = null;
        foreach (var (position, sent) in sends)
        {
            try
            {
                await sent;
                if (failure is null) confirmed = position;
            }
            catch (Exception ex)
            {
                failure ??= ex;
            }
        }
        if (confirmed > cursor && !await stores.ReadModels.AdvanceCursorAsync(CursorName, cursor, confirmed, ct))
        {
            logger.LogWarning("relay: the cursor moved under this instance (another relay ran); continuing from it");
            return await stores.ReadModels.CursorAsync(CursorName, ct);
        }
        LedgerTelemetry.RelayLag(head - confirmed);
        if (failure is not null) throw new IOException($"publishing position {confirmed + 1} failed: {failure.Message}", failure);
        return confirmed;
    }
}
