using System.Diagnostics;
using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using RevenueLedger.Postgres;

/// <summary>Baselines for the PostgreSQL figures, measured on the rows the ledger stored in the same run.</summary>
internal static class PostgresBaselines
{
    public static async Task<int> CopyAsync(string connectionString)
    {
        var (rows, seconds) = await MeasureCopyAsync(connectionString);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bare-copy rows={rows} seconds={seconds:F2} events_per_s={rows / seconds:F0}"));
        return 0;
    }

    /// <summary>COPY the stored rows into a bare table of the same shape (same columns, keys and indexes): rows and seconds.</summary>
    public static async Task<(int Rows, double Seconds)> MeasureCopyAsync(string connectionString)
    {
        await using var db = NpgsqlDataSource.Create(connectionString);
        var rows = new List<(long, string, long, string, string, string, string, string)>();
        await using (var cmd = db.CreateCommand("SELECT position, account_id, stream_version, event_type, event_id, payload, recorded_at, hash FROM events ORDER BY position"))
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync())
                rows.Add((r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetString(7)));
        await using (var ddl = db.CreateCommand("""
            DROP TABLE IF EXISTS bench_copy;
            CREATE TABLE bench_copy (LIKE events INCLUDING ALL);
            """))
            await ddl.ExecuteNonQueryAsync();

        var clock = Stopwatch.StartNew();
        await using (var c = await db.OpenConnectionAsync())
        {
            // The same transaction size as the importer's appends.
            for (int i = 0; i < rows.Count; i += RevenueLedger.Application.Importer.ChunkSize)
            {
                await using var tx = await c.BeginTransactionAsync();
                await using (var copy = await c.BeginBinaryImportAsync("COPY bench_copy (position, account_id, stream_version, event_type, event_id, payload, recorded_at, hash) FROM STDIN (FORMAT BINARY)"))
                {
                    foreach (var (p, a, v, t, id, payload, at, h) in rows.Skip(i).Take(RevenueLedger.Application.Importer.ChunkSize))
                    {
                        await copy.StartRowAsync();
                        await copy.WriteAsync(p, NpgsqlDbType.Bigint);
                        await copy.WriteAsync(a, NpgsqlDbType.Text);
                        await copy.WriteAsync(v, NpgsqlDbType.Bigint);
                        await copy.WriteAsync(t, NpgsqlDbType.Text);
                        await copy.WriteAsync(id, NpgsqlDbType.Text);
                        await copy.WriteAsync(payload, NpgsqlDbType.Text);
                        await copy.WriteAsync(at, NpgsqlDbType.Text);
                        await copy.WriteAsync(h, NpgsqlDbType.Text);
                    }
                    await copy.CompleteAsync();
                }
                await tx.CommitAsync();
            }
        }
        var seconds = clock.Elapsed.TotalSeconds;
        await using (var drop = db.CreateCommand("DROP TABLE bench_copy")) await drop.ExecuteNonQueryAsync();
        return (rows.Count, seconds);
    }

    /// <summary>A plain sequential read of the whole log, parsed into events: what any consumer pays before folding.</summary>
    public static async Task<int> ReadAsync(string connectionString)
    {
        await using var store = await PostgresEventStore.OpenAsync(connectionString, create: false);
        var clock = Stopwatch.StartNew();
        long n = 0;
        await foreach (var e in store.ReadEventsAsync()) n++;
        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"plain-read events={n} seconds={seconds:F2} events_per_s={n / seconds:F0}"));
        return 0;
    }
}
