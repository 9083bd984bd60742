using RevenueLedger.Domain;

namespace RevenueLedger.EventStore;

/// <summary>
/// The append-only ledger log: one stream per account, one global gapless position sequence in commit order,
/// idempotency by eventId and a SHA-256 hash chain over every stored event. Implementations must pass
/// <c>EventStoreContract</c> in the tests unchanged.
/// </summary>
public interface IEventStore : IAsyncDisposable
{
    /// <summary>
    /// Appends atomically across streams: either every event is stored (or recognised as a duplicate of a stored
    /// one) or nothing is. Throws <see cref="WrongExpectedVersionException"/> or <see cref="EventIdConflictException"/>.
    /// </summary>
    Task<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> appends, CancellationToken ct = default);

    /// <summary>
    /// Like <see cref="AppendAsync"/>, for writers that decided the events as new without looking their ids up: an
    /// eventId that is already stored, even with the same content, fails the whole append with
    /// <see cref="EventIdConflictException"/> instead of being skipped, because what was decided after it assumed it new.
    /// </summary>
    Task<AppendResult> AppendNewAsync(IReadOnlyList<StreamAppend> appends, CancellationToken ct = default);

    Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string accountId, CancellationToken ct = default);

    /// <summary>Several streams at once (for deciding a batch); accounts without events are absent.</summary>
    Task<IReadOnlyDictionary<string, IReadOnlyList<RecordedEvent>>> ReadStreamsAsync(IReadOnlyCollection<string> accountIds, CancellationToken ct = default);

    /// <summary>
    /// Every account with events in (<paramref name="afterPosition"/>, <paramref name="toPosition"/>], once each: what a
    /// writer needs to know which accounts exist, and which ones another writer changed.
    /// </summary>
    Task<IReadOnlyList<string>> ReadAccountIdsAsync(long afterPosition, long toPosition, CancellationToken ct = default);

    /// <summary>The log in position order, from <paramref name="fromPosition"/> up to <paramref name="toPosition"/>, both inclusive.</summary>
    IAsyncEnumerable<RecordedEvent> ReadAllAsync(long fromPosition = 1, long? toPosition = null, CancellationToken ct = default);

    /// <summary>
    /// The log's events alone (no hashes or timestamps), parsed, in position order: what a replay needs, read as
    /// fast as the backend allows.
    /// </summary>
    IAsyncEnumerable<PositionedEvent> ReadEventsAsync(long fromPosition = 1, long? toPosition = null, CancellationToken ct = default);

    /// <summary>
    /// The log as stored (position, versioned type, canonical UTF-8 payload) in position order and in batches, for
    /// replays that read payloads their own way. <paramref name="storedType"/> keeps only events of that type.
    /// </summary>
    IAsyncEnumerable<RawEventBatch> ReadRawAsync(long fromPosition = 1, long? toPosition = null, string? storedType = null, CancellationToken ct = default);

    /// <summary>The stored events under these eventIds, wherever they are.</summary>
    Task<IReadOnlyDictionary<string, RecordedEvent>> FindEventsAsync(IReadOnlyCollection<string> eventIds, CancellationToken ct = default);

    Task<StoreHead> GetHeadAsync(CancellationToken ct = default);

    /// <summary>
    /// The trace contexts stored with events in [<paramref name="fromPosition"/>, <paramref name="toPosition"/>]
    /// (events without one are skipped), at most <paramref name="limit"/>, in position order: for telemetry only.
    /// </summary>
    Task<IReadOnlyList<(long Position, string TraceContext)>> TraceContextsAsync(long fromPosition, long toPosition, int limit, CancellationToken ct = default);
}

/// <summary>Events for one account stream. <paramref name="ExpectedVersion"/>: the stream's event count the caller decided against; null for any.</summary>
public sealed record StreamAppend(string AccountId, long? ExpectedVersion, IReadOnlyList<EventData> Events);

/// <summary>
/// An event ready to store: its versioned type name and canonical payload, computed once. Writers can prepare these
/// off the store's critical path (the payload is what the hash chain covers).
/// </summary>
public sealed class EventData
{
    private readonly Digest _contentDigest;
    private string? _payload;

    private EventData(LedgerEvent e, string? traceContext = null)
    {
        Event = e;
        TraceContext = traceContext;
        StoredType = e.StoredType;
        PayloadUtf8 = WireFormat.ToCanonicalJsonUtf8(e);
        HashChain.ContentDigest(e.AccountId, StoredType, e.EventId, PayloadUtf8, _contentDigest);
    }

    [System.Runtime.CompilerServices.InlineArray(HashChain.DigestBytes)]
    private struct Digest
    {
        private byte _first;
    }

    /// <summary>The log-independent part of the event's hash (see <see cref="HashChain"/>), as its 32 bytes.</summary>
    public ReadOnlySpan<byte> ContentDigest => _contentDigest;

    public LedgerEvent Event { get; }

    public string StoredType { get; }

    /// <summary>The canonical payload as stored and hashed: UTF-8 (a store that writes bytes needs no string).</summary>
    public byte[] PayloadUtf8 { get; }

    /// <summary>The canonical payload as text, made on first use.</summary>
    public string Payload => _payload ??= System.Text.Encoding.UTF8.GetString(PayloadUtf8);

    /// <summary>Whether this is the same stored content as <paramref name="other"/>'s (an eventId seen twice).</summary>
    public bool SameContentAs(EventData other) => StoredType == other.StoredType && PayloadUtf8.AsSpan().SequenceEqual(other.PayloadUtf8);

    /// <summary>
    /// The W3C trace context (traceparent) of the request that submitted the event: stored beside the event, outside
    /// the hash chain (it is telemetry, not ledger content), so the relay and projectors can continue its trace.
    /// </summary>
    public string? TraceContext { get; }

    public static EventData From(LedgerEvent e, string? traceContext = null) => new(e, traceContext);

    public static implicit operator EventData(LedgerEvent e) => new(e);
}

/// <summary>Positions of the submitted events in submission order (a duplicate gets its stored position).</summary>
public sealed record AppendResult(IReadOnlyList<long> Positions, IReadOnlyList<bool> Duplicates, long HeadPosition);

public readonly record struct PositionedEvent(long Position, LedgerEvent Event);

/// <summary>
/// Stored rows copied into one buffer: no string per row, so a replay of millions allocates little. Batches stay
/// under the large-object threshold, so their buffers die young instead of forcing full collections.
/// </summary>
public sealed class RawEventBatch
{
    public const int TargetBytes = 60 * 1024;

    // Not zeroed: every byte read is one written first, and zeroing a catch-up's batches was a tenth of its reading.
    private byte[] _bytes = GC.AllocateUninitializedArray<byte>(TargetBytes + 4096);
    private int _used;
    private readonly List<(long Position, int Type, int TypeLength, int Payload, int PayloadLength)> _rows = new(512);

    public int Count => _rows.Count;

    public bool IsFull => _used >= TargetBytes;

    public long Position(int i) => _rows[i].Position;

    public ReadOnlySpan<byte> StoredType(int i) => _bytes.AsSpan(_rows[i].Type, _rows[i].TypeLength);

    public ReadOnlySpan<byte> Payload(int i) => _bytes.AsSpan(_rows[i].Payload, _rows[i].PayloadLength);

    public void Add(long position, ReadOnlySpan<byte> storedType, ReadOnlySpan<byte> payload)
    {
        var (buffer, offset) = Reserve(position, storedType.Length, payload.Length);
        storedType.CopyTo(buffer.AsSpan(offset));
        payload.CopyTo(buffer.AsSpan(offset + storedType.Length));
    }

    /// <summary>
    /// Adds a row whose bytes the caller writes itself (e.g. a driver copying a column straight from its buffer):
    /// the stored type at <c>Offset</c>, its payload right after it.
    /// </summary>
    public (byte[] Buffer, int Offset) Reserve(long position, int storedTypeLength, int payloadLength)
    {
        int start = _used, need = _used + storedTypeLength + payloadLength;
        if (need > _bytes.Length)
        {
            var larger = GC.AllocateUninitializedArray<byte>(Math.Max(_bytes.Length * 2, need));
            _bytes.AsSpan(0, _used).CopyTo(larger);
            _bytes = larger;
        }
        _rows.Add((position, start, storedTypeLength, start + storedTypeLength, payloadLength));
        _used = need;
        return (_bytes, start);
    }

    /// <summary>Parses batches as they are read, each on another core while the next one is read.</summary>
    public static async IAsyncEnumerable<PositionedEvent> ParseAllAsync(IAsyncEnumerable<RawEventBatch> batches, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        var parsing = Task.FromResult(Array.Empty<PositionedEvent>());
        await foreach (var batch in batches.WithCancellation(ct))
        {
            foreach (var e in await parsing) yield return e;
            parsing = Task.Run(batch.Parse, ct);
        }
        foreach (var e in await parsing) yield return e;
    }

    public PositionedEvent[] Parse()
    {
        var result = new PositionedEvent[Count];
        for (int i = 0; i < Count; i++)
            result[i] = new PositionedEvent(Position(i), WireFormat.ParseStored(System.Text.Encoding.UTF8.GetString(StoredType(i)), Payload(i)));
        return result;
    }
}

public sealed record StoreHead(long Position, string Hash)
{
    public static readonly StoreHead Empty = new(0, HashChain.Genesis);
}

/// <summary>A stored event exactly as the log holds it; <see cref="Event"/> is read from the canonical payload.</summary>
public sealed record RecordedEvent(
    long Position, string AccountId, long StreamVersion, string StoredType, string EventId, string Payload, string RecordedAt, string Hash,
    string? TraceContext = null)
{
    private LedgerEvent? _event;

    public LedgerEvent Event => _event ??= WireFormat.ParseStored(StoredType, Payload);

    public DateTimeOffset RecordedAtUtc => DateTimeOffset.Parse(RecordedAt, System.Globalization.CultureInfo.InvariantCulture);

    public ExistingEvent AsExisting() => new(Position, StoredType, Payload);
}

public sealed class WrongExpectedVersionException(string accountId, long? expected, long actual)
    : Exception($"stream '{accountId}' is at version {actual}, expected {expected}")
{
    public string AccountId { get; } = accountId;

    public long Actual { get; } = actual;
}

public sealed class EventIdConflictException(string eventId, long storedPosition)
    : Exception($"eventId '{eventId}' is already stored at position {storedPosition} with different content")
{
    public string EventId { get; } = eventId;

    public long StoredPosition { get; } = storedPosition;
}

/// <summary>
/// A store backed by a pool of server connections. A database restart breaks every pooled connection, and a pool
/// hands each broken one out once more before noticing; a caller that sees a lost connection clears the pool instead,
/// so the next attempt opens fresh connections.
/// </summary>
public interface IConnectionPoolOwner
{
    void ClearPool();
}
