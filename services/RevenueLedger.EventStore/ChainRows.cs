namespace RevenueLedger.EventStore;

/// <summary>
/// A store that can hand over the texts the hash chain covers as stored bytes, without building an event per row:
/// what makes `verify` run at close to the speed of hashing. Stores without it are verified through
/// <see cref="IEventStore.ReadAllAsync"/>, with the same checks and the same findings.
/// </summary>
public interface IChainRowSource
{
    /// <summary>
    /// The stored rows with <paramref name="fromPosition"/> ≤ position ≤ <paramref name="toPosition"/> (null: to the
    /// end) in position order. Ranges may be read at once on separate connections: that is how verify uses both cores.
    /// </summary>
    IAsyncEnumerable<ChainRows> ReadChainAsync(long fromPosition, long? toPosition, CancellationToken ct = default);
}

/// <summary>
/// Stored rows in position order, laid out for hashing: each row's bytes are
/// <c>accountId|storedType|eventId|payload</c> (the content digest's preimage, contiguous), then recordedAt, then the
/// stored hash; offsets say where each part is.
/// </summary>
public sealed class ChainRows
{
    private byte[] _bytes = new byte[256 * 1024];
    private int _used;
    private readonly List<Row> _rows = new(2048);

    public readonly record struct Row(long Position, long StreamVersion, int Start, int AccountLength, int TypeLength, int EventIdLength, int PayloadLength, int RecordedAtLength, int HashLength)
    {
        public int ContentLength => AccountLength + TypeLength + EventIdLength + PayloadLength + 3;
    }

    public int Count => _rows.Count;

    /// <summary>Filled by <see cref="HashChain"/> on the reading thread: each row's content digest (32 bytes each) and column problem.</summary>
    internal byte[] Digests { get; set; } = [];

    internal string?[] Problems { get; set; } = [];

    public bool IsFull => _used >= 192 * 1024;

    public Row this[int i] => _rows[i];

    public ReadOnlySpan<byte> Content(in Row r) => _bytes.AsSpan(r.Start, r.ContentLength);

    public ReadOnlySpan<byte> AccountId(in Row r) => _bytes.AsSpan(r.Start, r.AccountLength);

    public ReadOnlySpan<byte> StoredType(in Row r) => _bytes.AsSpan(r.Start + r.AccountLength + 1, r.TypeLength);

    public ReadOnlySpan<byte> EventId(in Row r) => _bytes.AsSpan(r.Start + r.AccountLength + r.TypeLength + 2, r.EventIdLength);

    public ReadOnlySpan<byte> Payload(in Row r) => _bytes.AsSpan(r.Start + r.ContentLength - r.PayloadLength, r.PayloadLength);

    public ReadOnlySpan<byte> RecordedAt(in Row r) => _bytes.AsSpan(r.Start + r.ContentLength, r.RecordedAtLength);

    public ReadOnlySpan<byte> Hash(in Row r) => _bytes.AsSpan(r.Start + r.ContentLength + r.RecordedAtLength, r.HashLength);

    public void Add(long position, long streamVersion, ReadOnlySpan<byte> accountId, ReadOnlySpan<byte> storedType, ReadOnlySpan<byte> eventId,
        ReadOnlySpan<byte> payload, ReadOnlySpan<byte> recordedAt, ReadOnlySpan<byte> hash)
    {
        int need = accountId.Length + storedType.Length + eventId.Length + payload.Length + recordedAt.Length + hash.Length + 3;
        if (_used + need > _bytes.Length) Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + need));
        int start = _used;
        var dest = _bytes.AsSpan(_used);
        int n = 0;
        accountId.CopyTo(dest); n += accountId.Length; dest[n++] = (byte)'|';
        storedType.CopyTo(dest[n..]); n += storedType.Length; dest[n++] = (byte)'|';
        eventId.CopyTo(dest[n..]); n += eventId.Length; dest[n++] = (byte)'|';
        payload.CopyTo(dest[n..]); n += payload.Length;
        recordedAt.CopyTo(dest[n..]); n += recordedAt.Length;
        hash.CopyTo(dest[n..]); n += hash.Length;
        _used += n;
        _rows.Add(new Row(position, streamVersion, start, accountId.Length, storedType.Length, eventId.Length, payload.Length, recordedAt.Length, hash.Length));
    }
}
