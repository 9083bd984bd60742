using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace RevenueLedger.Sqlite;

/// <summary>
/// Inserts rows of the events table through one prepared native statement. Appending is the store's hot path,
/// and this skips Microsoft.Data.Sqlite's per-call statement and parameter bookkeeping. The benchmark's bare
/// insert baseline uses this same writer, so the comparison measures only what the ledger adds.
/// </summary>
public sealed class EventRowWriter : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _insert;

    public EventRowWriter(SqliteConnection connection)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("the connection is not open");
        int rc = raw.sqlite3_prepare_v2(_db,
            "INSERT INTO events (position, account_id, stream_version, event_type, event_id, payload, recorded_at, hash, trace_context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            out _insert);
        SqliteException.ThrowExceptionForRC(rc, _db);
    }

    public void Insert(long position, string accountId, long streamVersion, string eventType, string eventId, string payload, string recordedAt, string hash, string? traceContext = null)
    {
        raw.sqlite3_bind_int64(_insert, 1, position);
        raw.sqlite3_bind_text(_insert, 2, accountId);
        raw.sqlite3_bind_int64(_insert, 3, streamVersion);
        raw.sqlite3_bind_text(_insert, 4, eventType);
        raw.sqlite3_bind_text(_insert, 5, eventId);
        raw.sqlite3_bind_text(_insert, 6, payload);
        raw.sqlite3_bind_text(_insert, 7, recordedAt);
        raw.sqlite3_bind_text(_insert, 8, hash);
        if (traceContext is null) raw.sqlite3_bind_null(_insert, 9);
        else raw.sqlite3_bind_text(_insert, 9, traceContext);
        int rc = raw.sqlite3_step(_insert);
        raw.sqlite3_reset(_insert);
        if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, _db);
    }

    public void Dispose() => _insert.Dispose();
}
