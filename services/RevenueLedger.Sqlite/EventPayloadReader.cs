using Microsoft.Data.Sqlite;
using RevenueLedger.Domain;
using RevenueLedger.EventStore;
using SQLitePCL;

namespace RevenueLedger.Sqlite;

/// <summary>Reads (position, type, payload) straight from the native statement into batches of bytes.</summary>
internal sealed class EventPayloadReader : IDisposable
{
    private readonly sqlite3_stmt _stmt;
    private readonly sqlite3 _db;
    private bool _done;

    public EventPayloadReader(SqliteConnection connection, long from, long to, string? storedType)
    {
        _db = connection.Handle!;
        // The type goes into the SQL text, not a parameter, so SQLite can use the partial index on reversals.
        if (storedType is not null && EventTypes.WireNameOfStored(storedType) is null) throw new ArgumentException($"unknown stored type '{storedType}'", nameof(storedType));
        var filter = storedType is null ? "" : $" AND event_type = '{storedType}'";
        int rc = raw.sqlite3_prepare_v2(_db, $"SELECT position, event_type, payload FROM events WHERE position >= ? AND position <= ?{filter} ORDER BY position", out _stmt);
        SqliteException.ThrowExceptionForRC(rc, _db);
        raw.sqlite3_bind_int64(_stmt, 1, from);
        raw.sqlite3_bind_int64(_stmt, 2, to);
    }

    public RawEventBatch ReadBatch(int max)
    {
        var batch = new RawEventBatch();
        while (!_done && batch.Count < max && !batch.IsFull)
        {
            int rc = raw.sqlite3_step(_stmt);
            if (rc == raw.SQLITE_DONE) { _done = true; break; }
            if (rc != raw.SQLITE_ROW) SqliteException.ThrowExceptionForRC(rc, _db);
            batch.Add(raw.sqlite3_column_int64(_stmt, 0), raw.sqlite3_column_blob(_stmt, 1), raw.sqlite3_column_blob(_stmt, 2));
        }
        return batch;
    }

    public void Dispose() => _stmt.Dispose();
}
