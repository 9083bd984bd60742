using Microsoft.Data.Sqlite;
using RevenueLedger.Domain;
using SQLitePCL;

namespace RevenueLedger.EventStore.Sqlite;

/// <summary>
/// Reads (position, type, payload) straight from the native statement into one byte buffer per batch, so a replay
/// of millions of events allocates no intermediate strings and can be parsed in parallel.
/// </summary>
internal sealed class EventPayloadReader : IDisposable
{
    private readonly sqlite3_stmt _stmt;
    private readonly sqlite3 _db;
    private bool _done;

    public EventPayloadReader(SqliteConnection connection, long from, long to)
    {
        _db = connection.Handle!;
        int rc = raw.sqlite3_prepare_v2(_db, "SELECT position, event_type, payload FROM events WHERE position >= ? AND position <= ? ORDER BY position", out _stmt);
        SqliteException.ThrowExceptionForRC(rc, _db);
        raw.sqlite3_bind_int64(_stmt, 1, from);
        raw.sqlite3_bind_int64(_stmt, 2, to);
    }

    public Batch ReadBatch(int max)
    {
        var batch = new Batch();
        while (!_done && batch.Count < max)
        {
            int rc = raw.sqlite3_step(_stmt);
            if (rc == raw.SQLITE_DONE) { _done = true; break; }
            if (rc != raw.SQLITE_ROW) SqliteException.ThrowExceptionForRC(rc, _db);
            batch.Add(raw.sqlite3_column_int64(_stmt, 0), raw.sqlite3_column_blob(_stmt, 1), raw.sqlite3_column_blob(_stmt, 2));
        }
        return batch;
    }

    public void Dispose() => _stmt.Dispose();

    internal sealed class Batch
    {
        private static readonly (byte[] Name, string Type)[] Types = typeof(LedgerEvent).Assembly.GetTypes()
            .Where(t => t.IsSealed && t.IsSubclassOf(typeof(LedgerEvent)))
            .Select(t => EventTypes.StoredName(t)).Select(n => (System.Text.Encoding.UTF8.GetBytes(n), n)).ToArray();

        private byte[] _bytes = new byte[1 << 20];
        private int _used;
        private readonly List<(long Position, string Type, int Offset, int Length)> _rows = [];

        public int Count => _rows.Count;

        public void Add(long position, ReadOnlySpan<byte> type, ReadOnlySpan<byte> payload)
        {
            string? name = null;
            foreach (var (bytes, n) in Types) if (type.SequenceEqual(bytes)) { name = n; break; }
            name ??= System.Text.Encoding.UTF8.GetString(type); // unknown: ParseStored names it in its error
            if (_used + payload.Length > _bytes.Length) Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + payload.Length));
            payload.CopyTo(_bytes.AsSpan(_used));
            _rows.Add((position, name, _used, payload.Length));
            _used += payload.Length;
        }

        public PositionedEvent[] Parse()
        {
            var result = new PositionedEvent[_rows.Count];
            for (int i = 0; i < _rows.Count; i++)
            {
                var (position, type, offset, length) = _rows[i];
                result[i] = new PositionedEvent(position, WireFormat.ParseStored(type, _bytes.AsSpan(offset, length)));
            }
            return result;
        }
    }
}
