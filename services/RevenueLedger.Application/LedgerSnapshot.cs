using RevenueLedger.Domain;
using RevenueLedger.Domain.Insights;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.EventStore;

namespace RevenueLedger.Application;

/// <summary>Every account's history as known at one log position (spec §8): the input of every report.</summary>
public sealed class LedgerSnapshot(long position, IReadOnlyList<AccountHistory> accounts, FxRateTable? rates = null,
    SignalTable? signals = null, ReasonCatalogue? reasons = null)
{
    /// <summary>
    /// The accounts' signals known at <see cref="Position"/>. Only a snapshot replayed from the log has them (read
    /// models keep MRR histories only): <see cref="HasInsights"/> says which this is.
    /// </summary>
    public SignalTable Signals { get; } = signals ?? SignalTable.Empty;

    /// <summary>The reason catalogue known at <see cref="Position"/> (the defaults when none was replayed).</summary>
    public ReasonCatalogue Reasons { get; } = reasons ?? ReasonCatalogue.Default;

    public bool HasInsights { get; } = signals is not null;

    /// <summary>Churn and contraction by reason and function (see <see cref="ReasonPareto"/>).</summary>
    public ReasonParetoReport ParetoIn(string currency, Window window, OwnerGroup owner) =>
        ReasonPareto.Compute(Accounts, window, owner, Reasons, currency, Rates, Position);

    public long Position { get; } = position;

    public IReadOnlyList<AccountHistory> Accounts { get; } = accounts;

    /// <summary>The exchange rates known at <see cref="Position"/>.</summary>
    public FxRateTable Rates { get; } = rates ?? FxRateTable.Empty;

    /// <summary>
    /// The windows in a reporting currency (spec §10). Throws <see cref="FxRateMissingException"/> when a rate it needs
    /// is not recorded, <see cref="AmountOverflowException"/> when a total would reach 10^14.
    /// </summary>
    public IReadOnlyList<WindowReport> ReportIn(string currency, IReadOnlyList<Window> windows, bool byOwner = true) =>
        Conversion.ToCurrency(Report(windows, byOwner), currency, Rates, Position);

    /// <param name="parts">What is summed: the rates required and stated are those of these parts' rows.</param>
    /// <param name="convert">What of it is converted and returned (the rest comes back empty).</param>
    public WindowReport ReportIn(string currency, Window window, bool byOwner = true, ReportParts parts = ReportParts.All, ReportParts convert = ReportParts.All) =>
        Conversion.ToCurrency(Report(window, byOwner, parts), currency, Rates, Position, convert);

    public WindowReport Report(Window window, bool byOwner = true, ReportParts parts = ReportParts.All) => Reports.Compute(Accounts, window, byOwner, parts);

    /// <summary>Several windows at once: consecutive ones (calendar windows) in one sweep per account.</summary>
    public IReadOnlyList<WindowReport> Report(IReadOnlyList<Window> windows, bool byOwner = true)
    {
        bool consecutive = windows.Zip(windows.Skip(1)).All(p => p.First.To == p.Second.From);
        if (consecutive && windows.Count > 1)
            return WindowTotals.SumConsecutive(windows, Accounts, byOwner).Select(t => t.ToReport()).ToList();
        var reports = new WindowReport[windows.Count];
        Parallel.For(0, windows.Count, i => reports[i] = Report(windows[i], byOwner));
        return reports;
    }

    /// <summary>
    /// Replays the log up to <paramref name="asOfPosition"/> (default: the head). A reversal recorded after that
    /// position does not apply, so the same position always gives the same numbers.
    /// </summary>
    public static async Task<LedgerSnapshot> LoadAsync(IEventStore store, long? asOfPosition = null, CancellationToken ct = default)
    {
        var head = (await store.GetHeadAsync(ct)).Position;
        if (asOfPosition is { } p && (p < 0 || p > head))
            throw new LedgerUsageException($"as-of position {p} is outside the ledger (0..{head})");
        long position = asOfPosition ?? head;

        // A reversal always follows its target, so the targets known at this position are all a replay must skip.
        var reversed = new List<string>();
        await foreach (var batch in store.ReadRawAsync(1, position, EventTypes.StoredName(typeof(EventReversed)), ct))
            foreach (var e in batch.Parse()) reversed.Add(((EventReversed)e.Event).TargetEventId);

        // The log is read on this thread while the previous rows are folded on another; rows are handed over in
        // groups large enough that the two threads run side by side rather than in lock-step.
        var folder = new FactFolder(reversed);
        var folding = Task.CompletedTask;
        var group = new List<RawEventBatch>();
        int rows = 0;
        await foreach (var batch in store.ReadRawAsync(1, position, null, ct))
        {
            group.Add(batch);
            rows += batch.Count;
            if (rows < 16_384) continue;
            await folding;
            folding = FoldAsync(folder, group, ct);
            group = [];
            rows = 0;
        }
        await folding;
        await FoldAsync(folder, group, ct);
        return new LedgerSnapshot(position, folder.Build(), new FxRateTable(folder.Rates), folder.Signals(), folder.Reasons());
    }

    private static Task FoldAsync(FactFolder folder, List<RawEventBatch> batches, CancellationToken ct) => Task.Run(() =>
    {
        foreach (var batch in batches)
            for (int i = 0; i < batch.Count; i++) folder.Add(batch.Position(i), batch.StoredType(i), batch.Payload(i));
    }, ct);

    /// <summary>A snapshot of events given in position order (positions 1, 2, …), signals and catalogue included.</summary>
    public static LedgerSnapshot FromEvents(IReadOnlyList<LedgerEvent> eventsInPositionOrder)
    {
        var folder = new FactFolder(eventsInPositionOrder.OfType<EventReversed>().Select(r => r.TargetEventId));
        for (int i = 0; i < eventsInPositionOrder.Count; i++) folder.Add(eventsInPositionOrder[i], i + 1);
        return new LedgerSnapshot(eventsInPositionOrder.Count, folder.Build(), new FxRateTable(folder.Rates), folder.Signals(), folder.Reasons());
    }

    /// <summary>Folds events given in position order into per-account histories, reversals applied.</summary>
    public static IReadOnlyList<AccountHistory> Fold(IReadOnlyList<LedgerEvent> eventsInPositionOrder)
    {
        var folder = new FactFolder(eventsInPositionOrder.OfType<EventReversed>().Select(r => r.TargetEventId));
        foreach (var e in eventsInPositionOrder) folder.Add(e);
        return folder.Build();
    }
}
