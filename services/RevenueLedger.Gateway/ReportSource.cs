using RevenueLedger.Application;
using RevenueLedger.Application.Projections;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Hosting;

namespace RevenueLedger.Gateway;

/// <summary>
/// Where report answers come from: calendar windows from the window read models, any other range from the account
/// histories kept in memory (loaded once per read-model position, so an arbitrary range costs one pass over the
/// accounts, not a replay), and past positions from a replay of the log (immutable, so kept).
/// </summary>
public sealed class ReportSource(LedgerStores stores, ReadModelWatcher watcher)
{
    private readonly SemaphoreSlim _historiesGate = new(1, 1);
    private volatile LedgerSnapshot? _histories;
    private int _historiesGeneration = -1;
    private readonly SemaphoreSlim _asOfGate = new(1, 1);
    private readonly LinkedList<LedgerSnapshot> _asOf = new();

    public async Task<(long Position, IReadOnlyList<WindowReport> Reports)> WindowsAsync(WindowKind kind, DateOnly from, DateOnly to, bool byOwner, CancellationToken ct)
    {
        var windows = Window.Calendar(kind, from, to);
        if (await ReadModelReports.TryReportAsync(stores.ReadModels, windows, kind, byOwner, ct) is { } r) return r;
        return (0, new LedgerSnapshot(0, []).Report(windows, byOwner));
    }

    public async Task<LedgerSnapshot> HistoriesAsync(CancellationToken ct)
    {
        // Current while the read models have not moved and no rebuild switched generation (at the same position).
        if (_histories is { } h && h.Position >= watcher.Position && Volatile.Read(ref _historiesGeneration) == watcher.Generation) return h;
        await _historiesGate.WaitAsync(ct);
        try
        {
            int generation = watcher.Generation;
            if (_histories is { } again && again.Position >= watcher.Position && _historiesGeneration == generation) return again;
            var view = await stores.ReadModels.ReadViewAsync(null, default, default, histories: true, ct);
            var snapshot = view is null ? new LedgerSnapshot(0, []) : new LedgerSnapshot(view.Position, view.Histories!);
            Volatile.Write(ref _historiesGeneration, generation);
            _histories = snapshot;
            return snapshot;
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
}
