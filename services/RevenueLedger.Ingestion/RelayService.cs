using System.Diagnostics;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RevenueLedger.Contracts;
using RevenueLedger.Domain;
using RevenueLedger.EventStore;
using RevenueLedger.Hosting;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Ingestion;

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
