using System.Diagnostics;
using RevenueLedger.EventStore;
using RevenueLedger.Sqlite;

/// <summary>Where `ledger verify`'s time goes: reading the rows, hashing them, checking the columns against the payload.</summary>
internal static class VerifyPhases
{
    public static async Task<int> RunAsync(string store)
    {
        await using var log = await SqliteEventStore.OpenAsync(store);
        for (int round = 0; round < 2; round++)
        {
            var clock = Stopwatch.StartNew();
            long n = 0;
            await foreach (var e in log.ReadAllAsync()) n += e.Payload.Length;
            var read = clock.Elapsed.TotalSeconds;
            clock.Restart();
            string previous = HashChain.Genesis;
            await foreach (var e in log.ReadAllAsync()) previous = HashChain.Compute(e, previous);
            var hashed = clock.Elapsed.TotalSeconds;
            clock.Restart();
            long rows = 0;
            await foreach (var b in log.ReadChainAsync(1, null)) rows += b.Count;
            var rawRead = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"raw chain rows read {rawRead:F2} s ({rows})");
            clock.Restart();
            var result = await HashChain.VerifyAsync(log);
            var full = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"read {read:F2} s, read+hash {hashed:F2} s, verify {full:F2} s ({result.IsIntact}, {n})");
        }
        return 0;
    }
}
