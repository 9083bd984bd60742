using Microsoft.Data.Sqlite;
using RevenueLedger.EventStore;
using SQLitePCL;

namespace RevenueLedger.Sqlite;

/// <summary>Reads the hash chain's texts straight from SQLite's stored UTF-8, a batch at a time (see <see cref="IChainRowSource"/>).</summary>
internal sealed class ChainRowReader : IDisposable
{
    private readonly sqlite3_stmt _stmt;
    private readonly sqlite3 _db;
    private bool _done;

    public ChainRowReader(SqliteConnection connection, long fromPosition, long toPosition)
    {
        _db = connection.Handle!;
        int rc = raw.sqlite3_prepare_v2(_db,
            "SELECT position, stream_version, account_id, event_type, event_id, payload, recorded_at, hash FROM events WHERE position >= ?1 AND position <= ?2 ORDER BY position", out _stmt);
        SqliteException.ThrowExceptionForRC(rc, _db);
        SqliteException.ThrowExceptionForRC(raw.sqlite3_bind_int64(_stmt, 1, fromPosition), _db);
        SqliteException.ThrowExceptionForRC(raw.sqlite3_bind_int64(_stmt, 2, toPosition), _db);
    }

    public ChainRows ReadBatch()
    {
        var batch = new ChainRows();
        while (!_done && !batch.IsFull)
        {
            int rc = raw.sqlite3_step(_stmt);
            if (rc == raw.SQLITE_DONE) { _done = true; break; }
            if (rc != raw.SQLITE_ROW) SqliteException.ThrowExceptionForRC(rc, _db);
            batch.Add(raw.sqlite3_column_int64(_stmt, 0), raw.sqlite3_column_int64(_stmt, 1), raw.sqlite3_column_blob(_stmt, 2), raw.sqlite3_column_blob(_stmt, 3),
                raw.sqlite3_column_blob(_stmt, 4), raw.sqlite3_column_blob(_stmt, 5), raw.sqlite3_column_blob(_stmt, 6), raw.sqlite3_column_blob(_stmt, 7));
        }
        return batch;
    }

    public void Dispose() => _stmt.Dispose();
}
