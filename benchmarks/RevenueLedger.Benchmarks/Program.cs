using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

// Benchmarks for docs/benchmarks.md. Not part of the test suite: run `benchmarks/RevenueLedger.Benchmarks/run.sh`.
// Each figure is measured against a baseline taken in the same run on the same machine. The baseline uses the
// store's connection settings (WAL, synchronous=FULL, cache_size=-RevenueLedger.Sqlite.SqliteEventStore.CacheKiB).
if (args.Length == 2 && args[0] == "report-phases") return await ReportPhases.RunAsync(args[1]);
if (args.Length == 2 && args[0] == "postgres-copy") return await PostgresBaselines.CopyAsync(args[1]);
if (args.Length == 7 && args[0] == "http-load") return await HttpLoad.RunAsync(args[1], args[2], args[3], args[4], args[5], args[6]);
if (args.Length == 5 && args[0] == "currency-queries") return await CurrencyQueries.RunAsync(args[1], args[2], args[3], int.Parse(args[4], CultureInfo.InvariantCulture));
if (args.Length == 3 && args[0] == "read-model-phases") return await ReadModelPhases.RunAsync(args[1], args[2]);
if (args.Length == 3 && args[0] == "store-paths") return await StorePaths.RunAsync(args[1], args[2]);
if (args.Length == 5 && args[0] == "billing-file") return await BillingFile.RunAsync(args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture));
if (args.Length == 2 && args[0] == "verify-phases") return await VerifyPhases.RunAsync(args[1]);
if (args.Length == 2 && args[0] == "insights") return await Insights.RunAsync(args[1]);
if (args.Length == 2 && args[0] == "postgres-read") return await PostgresBaselines.ReadAsync(args[1]);
if (args.Length < 2 || args[0] != "sqlite-import")
{
    Console.Error.WriteLine("usage: RevenueLedger.Benchmarks sqlite-import LEDGER_DB  (the store that `ledger import` just filled)");
    return 2;
}
var source = args[1];
var target = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(source))!, "bare-insert.db");
foreach (var suffix in new[] { "", "-wal", "-shm" }) File.Delete(target + suffix);

// The same rows, already computed by the ledger, into the same schema with the same transaction size and
// durability: what storage alone costs, without parsing, validation, idempotency checks or hashing.
var rows = new List<object[]>();
using (var src = new SqliteConnection($"Data Source={source};Mode=ReadOnly"))
{
    src.Open();
    using var cmd = src.CreateCommand();
    cmd.CommandText = "SELECT position, account_id, stream_version, event_type, event_id, payload, recorded_at, hash FROM events ORDER BY position";
    using var r = cmd.ExecuteReader();
    while (r.Read()) rows.Add([r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetString(7)]);
}

var clock = Stopwatch.StartNew();
using (var c = new SqliteConnection($"Data Source={target}"))
{
    c.Open();
    using (var ddl = c.CreateCommand())
    {
        ddl.CommandText = $"""
            PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-{RevenueLedger.Sqlite.SqliteEventStore.CacheKiB};
            CREATE TABLE events (position INTEGER PRIMARY KEY, account_id TEXT NOT NULL, stream_version INTEGER NOT NULL, event_type TEXT NOT NULL,
                                 event_id TEXT NOT NULL, payload TEXT NOT NULL, recorded_at TEXT NOT NULL, hash TEXT NOT NULL, trace_context TEXT NULL);
            CREATE UNIQUE INDEX ux_events_event_id ON events (event_id);
            CREATE UNIQUE INDEX ux_events_stream ON events (account_id, stream_version);
            """;
        ddl.ExecuteNonQuery();
    }
    const int chunk = RevenueLedger.Application.Importer.ChunkSize; // the same transaction size as the importer
    for (int i = 0; i < rows.Count; i += chunk)
    {
        using var tx = c.BeginTransaction();
        using var insert = new RevenueLedger.Sqlite.EventRowWriter(c);
        foreach (var row in rows.Skip(i).Take(chunk))
            insert.Insert((long)row[0], (string)row[1], (long)row[2], (string)row[3], (string)row[4], (string)row[5], (string)row[6], (string)row[7]);
        tx.Commit();
    }
}
var seconds = clock.Elapsed.TotalSeconds;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bare-insert rows={rows.Count} seconds={seconds:F2} events_per_s={rows.Count / seconds:F0}"));
SqliteConnection.ClearAllPools();
foreach (var suffix in new[] { "", "-wal", "-shm" }) File.Delete(target + suffix);
return 0;
