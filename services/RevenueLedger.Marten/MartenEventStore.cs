using System.Runtime.CompilerServices;
using JasperFx;
using JasperFx.Events;
using Marten;
using Marten.Services;
using Npgsql;
using RevenueLedger.Domain;
using RevenueLedger.EventStore;
using RevenueLedger.Postgres;

namespace RevenueLedger.Marten;

/// <summary>
/// The event store on Marten's: one Marten stream per account (string stream keys), events appended through a Marten
/// session, in Marten's own tables (<c>mt_events</c>, <c>mt_streams</c>). What Marten does not give is kept beside it:
/// Marten's sequence leaves gaps when a transaction rolls back, so the ledger's gapless position, its hash and the
/// recorded time travel in the event body (<see cref="LedgerEntry"/>), with unique indexes on position and eventId,
/// and appends are serialised by an advisory lock taken before the head (<c>ledger_marten_head</c>) is read, as in
/// <see cref="PostgresEventStore"/>. The append rules are <see cref="AppendPlan"/>'s, as for every backend.
/// Reads are plain SQL over Marten's tables: they need the ledger's position order, which Marten does not index.
/// </summary>
public sealed class MartenEventStore : RevenueLedger.EventStore.IEventStore, IConnectionPoolOwner
{
    private const int SchemaVersion = 1;
    private readonly NpgsqlDataSource _db;
    private readonly DocumentStore _marten;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _appendGate = new(1, 1);

    private MartenEventStore(NpgsqlDataSource db, DocumentStore marten, TimeProvider time)
    {
        _db = db;
        _marten = marten;
        _time = time;
    }

    public void ClearPool() => _db.Clear();

    /// <summary>Marten's configuration for the ledger's streams, in <paramref name="schema"/>.</summary>
    public static StoreOptions Options(NpgsqlDataSource db, string schema, EventAppendMode mode = EventAppendMode.Quick)
    {
        var opts = new StoreOptions();
        opts.Connection(db);
        opts.DatabaseSchemaName = schema;
        opts.Events.DatabaseSchemaName = schema;
        opts.Events.StreamIdentity = StreamIdentity.AsString;
        opts.Events.AppendMode = mode;
        // The schema is created once, under the ledger's lock (OpenAsync); a migration at session start would also
        // drop the ledger's own indexes on mt_events, which Marten does not know about.
        opts.AutoCreateSchemaObjects = AutoCreate.None;
        opts.UseSystemTextJsonForSerialization(casing: Weasel.Core.Casing.CamelCase);
        opts.Events.MapEventType<LedgerEntry>("ledger_entry");
        return opts;
    }

    /// <summary>Opens the store, creating its schema; <paramref name="create"/> false refuses a schema with no ledger.</summary>
    public static async Task<MartenEventStore> OpenAsync(string connectionString, TimeProvider? time = null, bool create = true, CancellationToken ct = default)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var schema = builder.SearchPath?.Split(',')[0].Trim() is { Length: > 0 } s ? s : "public";
        var db = PostgresDataSource.Create(builder.ConnectionString);
        var marten = new DocumentStore(Options(db, schema));
        var store = new MartenEventStore(db, marten, time ?? TimeProvider.System);
        try
        {
            if (!create)
            {
                await using var cmd = db.CreateCommand("SELECT to_regclass('ledger_marten_head') IS NOT NULL");
                if (!(bool)(await cmd.ExecuteScalarAsync(ct))!)
                    throw new InvalidOperationException($"no ledger store (Marten) in schema '{schema}' of database '{builder.Database}'");
            }
            await store.MigrateAsync(schema, ct);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
        return store;
    }

    private async Task MigrateAsync(string schema, CancellationToken ct)
    {
        // Marten creates its tables on connections of its own; a session lock held meanwhile on this one keeps two
        // processes opening a new store at once from both creating it.
        await using var c = await _db.OpenConnectionAsync(ct);
        await Exec(c, null, "SELECT pg_advisory_lock(7410, 2)", ct);
        try
        {
            await Exec(c, null, $"CREATE SCHEMA IF NOT EXISTS \"{schema.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", ct);
            await Exec(c, null, "CREATE TABLE IF NOT EXISTS ledger_marten_schema (version int NOT NULL)", ct);
            await using (var cmd = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM ledger_marten_schema", c))
            {
                var current = Convert.ToInt32(await cmd.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
                if (current > SchemaVersion) throw new InvalidOperationException($"store schema {current} is newer than this build understands ({SchemaVersion})");
                if (current == SchemaVersion) return;
            }
            await _marten.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
            await using var tx = await c.BeginTransactionAsync(ct);
            await Exec(c, tx, """
                CREATE UNIQUE INDEX IF NOT EXISTS ledger_ux_position ON mt_events (((data ->> 'position')::bigint));
                CREATE UNIQUE INDEX IF NOT EXISTS ledger_ux_event_id ON mt_events ((data ->> 'eventId'));
                CREATE TABLE IF NOT EXISTS ledger_marten_head (id int PRIMARY KEY CHECK (id = 1), position bigint NOT NULL, hash text NOT NULL);
                INSERT INTO ledger_marten_head (id, position, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000')
                    ON CONFLICT (id) DO NOTHING;
                INSERT INTO ledger_marten_schema (version) VALUES (1);
                """, ct);
            await tx.CommitAsync(ct);
        }
        finally
        {
            await Exec(c, null, "SELECT pg_advisory_unlock(7410, 2)", CancellationToken.None);
        }
    }

    private static async Task Exec(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, c, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public Task<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> appends, CancellationToken ct = default) => AppendAsync(appends, idempotent: true, ct);

    public Task<AppendResult> AppendNewAsync(IReadOnlyList<StreamAppend> appends, CancellationToken ct = default) => AppendAsync(appends, idempotent: false, ct);

    private async Task<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> appends, bool idempotent, CancellationToken ct)
    {
        await _appendGate.WaitAsync(ct);
        try
        {
            return await AppendOnceAsync(appends, idempotent, ct);
        }
        finally
        {
            _appendGate.Release();
        }
    }

    private async Task<AppendResult> AppendOnceAsync(IReadOnlyList<StreamAppend> appends, bool idempotent, CancellationToken ct)
    {
        await using var c = await _db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        long head;
        string previousHash;
        await using (var start = new NpgsqlBatch(c, tx)
        {
            BatchCommands = { new("SELECT pg_advisory_xact_lock(hashtext(current_schema()), 7411)"), new("SELECT position, hash FROM ledger_marten_head WHERE id = 1") },
        })
        await using (var r = await start.ExecuteReaderAsync(ct))
        {
            await r.NextResultAsync(ct);
            await r.ReadAsync(ct);
            (head, previousHash) = (r.GetInt64(0), r.GetString(1));
        }

        var accounts = appends.Select(a => a.AccountId).Distinct(StringComparer.Ordinal).ToArray();
        var versions = accounts.ToDictionary(a => a, _ => 0L, StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand("SELECT id, version FROM mt_streams WHERE id = ANY(@ids)", c, tx))
        {
            cmd.Parameters.AddWithValue("ids", accounts);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) versions[r.GetString(0)] = r.GetInt64(1);
        }
        var before = new Dictionary<string, long>(versions, StringComparer.Ordinal);

        var stored = new Dictionary<string, StoredContent>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand(
            "SELECT data ->> 'eventId', (data ->> 'position')::bigint, data ->> 'type', data ->> 'payload' FROM mt_events WHERE (data ->> 'eventId') = ANY(@ids)", c, tx))
        {
            cmd.Parameters.AddWithValue("ids", appends.SelectMany(a => a.Events).Select(e => e.Event.EventId).Distinct(StringComparer.Ordinal).ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) stored[r.GetString(0)] = new StoredContent(r.GetInt64(1), r.GetString(2), r.GetString(3));
        }
        // A writer that decided its events as new must not see one of them skipped as a duplicate.
        if (!idempotent && stored.Count > 0)
        {
            var first = stored.MinBy(kv => kv.Value.Position);
            throw new EventIdConflictException(first.Key, first.Value.Position);
        }

        var plan = AppendPlan.Make(appends, head, versions, id => stored.TryGetValue(id, out var s) ? s : null);
        if (plan.Rows.Count > 0)
        {
            var recordedAt = HashChain.FormatRecordedAt(_time.GetUtcNow());
            var byStream = new Dictionary<string, List<LedgerEntry>>(StringComparer.Ordinal);
            foreach (var row in plan.Rows)
            {
                previousHash = HashChain.Link(row.Position, row.Version, recordedAt, previousHash, row.Data.ContentDigest);
                var account = row.Data.Event.AccountId;
                if (!byStream.TryGetValue(account, out var list)) byStream[account] = list = [];
                list.Add(new LedgerEntry(row.Position, row.Data.Event.EventId, row.Data.StoredType, row.Data.Payload, recordedAt, previousHash, row.Data.TraceContext));
            }
            await using (var session = _marten.LightweightSession(SessionOptions.ForTransaction(tx)))
            {
                // Marten checks the stream versions the plan decided against, besides the ledger's lock.
                foreach (var (account, entries) in byStream)
                {
                    if (before[account] == 0) session.Events.StartStream(account, entries.Cast<object>().ToArray());
                    else session.Events.Append(account, before[account] + entries.Count, entries.Cast<object>().ToArray());
                }
                await session.SaveChangesAsync(ct);
            }
            await using var update = new NpgsqlCommand("UPDATE ledger_marten_head SET position = @p, hash = @h WHERE id = 1", c, tx);
            update.Parameters.AddWithValue("p", plan.HeadPosition);
            update.Parameters.AddWithValue("h", previousHash);
            await update.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return plan.Result;
    }

    public async Task<StoreHead> GetHeadAsync(CancellationToken ct = default)
    {
        await using var cmd = _db.CreateCommand("SELECT position, hash FROM ledger_marten_head WHERE id = 1");
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? new StoreHead(r.GetInt64(0), r.GetString(1)) : StoreHead.Empty;
    }

    private const string Position = "((data ->> 'position')::bigint)";

    private const string Columns =
        $"{Position}, stream_id, version, data ->> 'type', data ->> 'eventId', data ->> 'payload', data ->> 'recordedAt', data ->> 'hash', data ->> 'traceContext'";

    private static RecordedEvent ReadEvent(NpgsqlDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetString(7),
            r.IsDBNull(8) ? null : r.GetString(8));

    public async Task<IReadOnlyList<(long Position, string TraceContext)>> TraceContextsAsync(long fromPosition, long toPosition, int limit, CancellationToken ct = default)
    {
        await using var cmd = _db.CreateCommand(
            $"SELECT {Position}, data ->> 'traceContext' FROM mt_events WHERE {Position} >= @from AND {Position} <= @to AND data ->> 'traceContext' IS NOT NULL ORDER BY {Position} LIMIT @limit");
        cmd.Parameters.AddWithValue("from", fromPosition);
        cmd.Parameters.AddWithValue("to", toPosition);
        cmd.Parameters.AddWithValue("limit", limit);
        var result = new List<(long, string)>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) result.Add((r.GetInt64(0), r.GetString(1)));
        return result;
    }

    public async Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string accountId, CancellationToken ct = default) =>
        (await ReadStreamsAsync([accountId], ct)).GetValueOrDefault(accountId) ?? [];

    public async Task<IReadOnlyDictionary<string, IReadOnlyList<RecordedEvent>>> ReadStreamsAsync(IReadOnlyCollection<string> accountIds, CancellationToken ct = default)
    {
        var result = new Dictionary<string, List<RecordedEvent>>(StringComparer.Ordinal);
        if (accountIds.Count > 0)
        {
            await using var cmd = _db.CreateCommand(
                $"SELECT e.* FROM unnest(@ids) WITH ORDINALITY AS a(id, n) CROSS JOIN LATERAL (SELECT {Columns} FROM mt_events WHERE stream_id = a.id ORDER BY version) e ORDER BY a.n, e.version");
            cmd.Parameters.AddWithValue("ids", accountIds.Distinct(StringComparer.Ordinal).ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var e = ReadEvent(r);
                if (!result.TryGetValue(e.AccountId, out var list)) result[e.AccountId] = list = [];
                list.Add(e);
            }
        }
        return result.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<RecordedEvent>)kv.Value, StringComparer.Ordinal);
    }

    public async Task<IReadOnlyList<string>> ReadAccountIdsAsync(long afterPosition, long toPosition, CancellationToken ct = default)
    {
        await using var cmd = _db.CreateCommand($"SELECT DISTINCT stream_id FROM mt_events WHERE {Position} > @after AND {Position} <= @to");
        cmd.Parameters.AddWithValue("after", afterPosition);
        cmd.Parameters.AddWithValue("to", toPosition);
        var result = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) result.Add(r.GetString(0));
        return result;
    }

    public async IAsyncEnumerable<RecordedEvent> ReadAllAsync(long fromPosition = 1, long? toPosition = null, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await using var cmd = _db.CreateCommand($"SELECT {Columns} FROM mt_events WHERE {Position} >= @from AND {Position} <= @to ORDER BY {Position}");
        cmd.Parameters.AddWithValue("from", fromPosition);
        cmd.Parameters.AddWithValue("to", toPosition ?? long.MaxValue);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) yield return ReadEvent(r);
    }

    public IAsyncEnumerable<PositionedEvent> ReadEventsAsync(long fromPosition = 1, long? toPosition = null, CancellationToken ct = default) =>
        RawEventBatch.ParseAllAsync(ReadRawAsync(fromPosition, toPosition, null, ct), ct);

    public async IAsyncEnumerable<RawEventBatch> ReadRawAsync(long fromPosition = 1, long? toPosition = null, string? storedType = null, [EnumeratorCancellation] CancellationToken ct = default)
    {
        if (storedType is not null && EventTypes.WireNameOfStored(storedType) is null) throw new ArgumentException($"unknown stored type '{storedType}'", nameof(storedType));
        await using var cmd = _db.CreateCommand(
            $"SELECT {Position}, data ->> 'type', data ->> 'payload' FROM mt_events WHERE {Position} >= @from AND {Position} <= @to AND (@type::text IS NULL OR data ->> 'type' = @type) ORDER BY {Position}");
        cmd.Parameters.AddWithValue("from", fromPosition);
        cmd.Parameters.AddWithValue("to", toPosition ?? long.MaxValue);
        cmd.Parameters.Add(new NpgsqlParameter("type", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)storedType ?? DBNull.Value });
        await foreach (var batch in PostgresEventStore.RawBatchesAsync(cmd, ct)) yield return batch;
    }

    public async Task<IReadOnlyDictionary<string, RecordedEvent>> FindEventsAsync(IReadOnlyCollection<string> eventIds, CancellationToken ct = default)
    {
        var result = new Dictionary<string, RecordedEvent>(StringComparer.Ordinal);
        if (eventIds.Count == 0) return result;
        await using var cmd = _db.CreateCommand($"SELECT {Columns} FROM mt_events WHERE (data ->> 'eventId') = ANY(@ids)");
        cmd.Parameters.AddWithValue("ids", eventIds.Distinct(StringComparer.Ordinal).ToArray());
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var e = ReadEvent(r);
            result[e.EventId] = e;
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        _marten.Dispose();
        await _db.DisposeAsync();
        _appendGate.Dispose();
    }
}

/// <summary>
/// A ledger event as Marten stores it. The payload is the canonical JSON as text, not a nested object: jsonb
/// reorders keys and rewrites spacing, and the hash chain covers the exact bytes.
/// </summary>
public sealed record LedgerEntry(
    [property: System.Text.Json.Serialization.JsonPropertyName("position")] long Position,
    [property: System.Text.Json.Serialization.JsonPropertyName("eventId")] string EventId,
    [property: System.Text.Json.Serialization.JsonPropertyName("type")] string Type,
    [property: System.Text.Json.Serialization.JsonPropertyName("payload")] string Payload,
    [property: System.Text.Json.Serialization.JsonPropertyName("recordedAt")] string RecordedAt,
    [property: System.Text.Json.Serialization.JsonPropertyName("hash")] string Hash,
    [property: System.Text.Json.Serialization.JsonPropertyName("traceContext")] string? TraceContext);
