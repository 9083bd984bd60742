using System.Collections.Concurrent;
using RevenueLedger.Application;
using RevenueLedger.Application.Projections;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Hosting;

namespace RevenueLedger.Gateway;

/// <summary>
/// Where report answers come from: calendar windows from the window read models, any other range from the account
/// histories kept in memory (loaded once per read-model position, so an arbitrary range costs one pass over the
/// accounts, not a replay), and past positions from a replay of the log (immutable, so kept). Calendar windows
/// past the last projected one (a quarter in which nothing happened yet) need the histories too; they share the
/// ones held here, so a dashboard asking for the current quarter does not read every history per request.
/// </summary>
public sealed class ReportSource(LedgerStores stores, ReadModelWatcher watcher) : IHeldHistories
{
    private readonly SemaphoreSlim _historiesGate = new(1, 1);
    // One reference, so a reader never pairs one generation's histories with another's number.
    private volatile Held? _held;
    private readonly SemaphoreSlim _asOfGate = new(1, 1);
    private readonly LinkedList<LedgerSnapshot> _asOf = new();

    /// <summary>
    /// Calendar windows in <paramref name="currency"/>. The native rows (sums per account currency) of a range are kept
    /// while the read models stay at their generation and position, so the same windows in another currency cost a
    /// conversion rather than another read of every row; the converted rows are kept beside them per reporting
    /// currency and part, so a window asked again (a dashboard, a BI refresh) costs what it costs in a one-currency
    /// book. Both go when the read models move, and a refused conversion (a missing rate) is never kept.
    /// </summary>
    public async Task<(long Position, IReadOnlyList<WindowReport> Reports)> WindowsAsync(WindowKind kind, DateOnly from, DateOnly to, bool byOwner, string currency,
        ReportParts parts, CancellationToken ct)
    {
        var windows = Window.Calendar(kind, from, to);
        var key = (kind, from, to, byOwner);
        if (!_native.TryGetValue(key, out var held) || held.Native.Generation != watcher.Generation || held.Native.Position < watcher.Position)
        {
            var native = await ReadModelReports.TryReportNativeAsync(stores.ReadModels, windows, kind, byOwner, this, ct);
            if (native is null) return (0, new LedgerSnapshot(0, []).ReportIn(currency, windows, byOwner));
            if (_native.Count >= 256) _native.Clear();
            _native[key] = held = new HeldNative(native, new());
        }
        var reports = held.Converted.GetOrAdd((currency, parts),
            static (k, n) => Conversion.ToCurrency(n.Reports, k.Currency, n.Rates, n.Position, k.Parts), held.Native);
        return (held.Native.Position, reports);
    }

    private readonly ConcurrentDictionary<(WindowKind, DateOnly, DateOnly, bool), HeldNative> _native = new();

    // A handful of reporting currencies at most are asked of one range; the whole entry goes with its native rows.
    private sealed record HeldNative(NativeReports Native, ConcurrentDictionary<(string Currency, ReportParts Parts), IReadOnlyList<WindowReport>> Converted);

    public async Task<LedgerSnapshot> HistoriesAsync(CancellationToken ct)
    {
        // Current while the read models have not moved and no rebuild switched generation (at the same position).
        if (_held is { } h && h.Snapshot.Position >= watcher.Position && h.Generation == watcher.Generation) return h.Snapshot;
        await _historiesGate.WaitAsync(ct);
        try
        {
            int generation = watcher.Generation;
            if (_held is { } again && again.Snapshot.Position >= watcher.Position && again.Generation == generation) return again.Snapshot;
            var view = await stores.ReadModels.ReadViewAsync(null, default, default, histories: true, ct: ct);
            var snapshot = view is null ? new LedgerSnapshot(0, []) : new LedgerSnapshot(view.Position, view.Histories!, new FxRateTable(view.Rates));
            _held = new Held(view?.Generation ?? generation, snapshot);
            return snapshot;
        }
        finally
        {
            _historiesGate.Release();
        }
    }

    LedgerSnapshot? IHeldHistories.Get(int generation, long position) =>
        _held is { } h && h.Snapshot.Position == position && h.Generation == generation ? h.Snapshot : null;

    void IHeldHistories.Offer(int generation, LedgerSnapshot snapshot)
    {
        // Only forward: a view read before a newer one was held must not replace it.
        if (!_historiesGate.Wait(0)) return;
        try
        {
            if (_held is { } h && (h.Generation > generation || (h.Generation == generation && h.Snapshot.Position >= snapshot.Position))) return;
            _held = new Held(generation, snapshot);
        }
        finally
        {
            _historiesGate.Release();
        }
    }

    /// <summary>The ledger as known at <paramref name="position"/> (spec §8), replayed from the log.</summary>
    public async Task<LedgerSnapshot> AsOfAsync(long position, CancellationToken ct)
    {
        await _asOfGate.WaitAsync(ct);
        try
        {
            if (_asOf.FirstOrDefault(s => s.Position == position) is { } cached) return cached;
            var snapshot = await LedgerSnapshot.LoadAsync(stores.Log, position, ct);
            _asOf.AddFirst(snapshot);
            if (_asOf.Count > 4) _asOf.RemoveLast();
            return snapshot;
        }
        finally
        {
            _asOfGate.Release();
        }
    }

    private sealed record Held(int Generation, LedgerSnapshot Snapshot);
}
