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

    Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string accountId, CancellationToken ct = default);

    /// <summary>Several streams at once (for deciding a batch); accounts without events are absent.</summary>
    Task<IReadOnlyDictionary<string, IReadOnlyList<RecordedEvent>>> ReadStreamsAsync(IReadOnlyCollection<string> accountIds, CancellationToken ct = default);

    /// <summary>The log in position order, from <paramref name="fromPosition"/> up to <paramref name="toPosition"/>, both inclusive.</summary>
    IAsyncEnumerable<RecordedEvent> ReadAllAsync(long fromPosition = 1, long? toPosition = null, CancellationToken ct = default);

    /// <summary>
    /// The log's events alone (no hashes or timestamps), parsed, in position order: what a replay needs, read as
    /// fast as the backend allows.
    /// </summary>
    IAsyncEnumerable<PositionedEvent> ReadEventsAsync(long fromPosition = 1, long? toPosition = null, CancellationToken ct = default);

    /// <summary>The stored events under these eventIds, wherever they are.</summary>
    Task<IReadOnlyDictionary<string, RecordedEvent>> FindEventsAsync(IReadOnlyCollection<string> eventIds, CancellationToken ct = default);

    Task<StoreHead> GetHeadAsync(CancellationToken ct = default);
}

/// <summary>Events for one account stream. <paramref name="ExpectedVersion"/>: the stream's event count the caller decided against; null for any.</summary>
public sealed record StreamAppend(string AccountId, long? ExpectedVersion, IReadOnlyList<LedgerEvent> Events);

/// <summary>Positions of the submitted events in submission order (a duplicate gets its stored position).</summary>
public sealed record AppendResult(IReadOnlyList<long> Positions, IReadOnlyList<bool> Duplicates, long HeadPosition)
{
    public int AppendedCount => Duplicates.Count(d => !d);
}

public readonly record struct PositionedEvent(long Position, LedgerEvent Event);

public sealed record StoreHead(long Position, string Hash)
{
    public static readonly StoreHead Empty = new(0, HashChain.Genesis);
}

/// <summary>A stored event exactly as the log holds it; <see cref="Event"/> is read from the canonical payload.</summary>
public sealed record RecordedEvent(
    long Position, string AccountId, long StreamVersion, string StoredType, string EventId, string Payload, string RecordedAt, string Hash)
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
