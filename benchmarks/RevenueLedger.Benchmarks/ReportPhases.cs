using System.Diagnostics;
using RevenueLedger.Application;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Sqlite;

/// <summary>Where a replayed report spends its time (for tuning; not in docs).</summary>
internal static class ReportPhases
{
    public static async Task<int> RunAsync(string path)
    {
        await using var store = await SqliteEventStore.OpenAsync(path, create: false);
        for (int round = 0; round < 3; round++)
        {
            var sw = Stopwatch.StartNew();
            int gc0 = GC.CollectionCount(0), gc1 = GC.CollectionCount(1), gc2 = GC.CollectionCount(2);
            long raw = 0;
            await foreach (var batch in store.ReadRawAsync()) raw += batch.Count;
            var read = sw.Elapsed.TotalMilliseconds;
            var folder = new FactFolder([]);
            await foreach (var batch in store.ReadRawAsync())
                for (int i = 0; i < batch.Count; i++) folder.Add(batch.Position(i), batch.StoredType(i), batch.Payload(i));
            var add = sw.Elapsed.TotalMilliseconds;
            folder.Build();
            var build = sw.Elapsed.TotalMilliseconds;
            Console.Write($"read+add {add - read:F0} ms, build {build - add:F0} ms; ");
            sw.Restart(); read = 0;
            var snapshot = await LedgerSnapshot.LoadAsync(store);
            var load = sw.Elapsed.TotalMilliseconds;
            var windows = Window.Calendar(WindowKind.Quarter, new DateOnly(2022, 1, 1), new DateOnly(2025, 1, 1));
            var reports = snapshot.Report(windows);
            var compute = sw.Elapsed.TotalMilliseconds;
            Console.WriteLine($"raw read {read:F0} ms ({raw} rows), load+fold {load - read:F0} ms, compute {compute - load:F0} ms, gc {GC.CollectionCount(0) - gc0}/{GC.CollectionCount(1) - gc1}/{GC.CollectionCount(2) - gc2}, pause {GC.GetTotalPauseDuration().TotalMilliseconds:F0} ms total");
        }
        return 0;
    }
}
