using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RevenueLedger.Domain;

namespace RevenueLedger.EventStore;

/// <summary>
/// The tamper-evident chain: each event's hash is SHA-256 over its position, the previous event's hash and its
/// stored content. The hash is taken over the stored text itself, so verification never depends on re-serialising.
/// </summary>
public static class HashChain
{
    public static readonly string Genesis = new('0', 64);

    /// <summary>recordedAt is stored as this text; the hash covers the text.</summary>
    public static string FormatRecordedAt(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static string Compute(long position, string previousHash, string accountId, long streamVersion, string storedType, string eventId, string recordedAt, string payload)
    {
        // '|' cannot occur in ids, type names or the timestamp, so the fields cannot run into each other.
        // Written straight into UTF-8 bytes: this runs once per appended event.
        int max = 48 + Encoding.UTF8.GetMaxByteCount(previousHash.Length + accountId.Length + storedType.Length + eventId.Length + recordedAt.Length + payload.Length);
        byte[]? rented = null;
        Span<byte> buffer = max <= 4096 ? stackalloc byte[max] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(max));
        int n = 0;
        position.TryFormat(buffer, out int w, default, CultureInfo.InvariantCulture); n += w;
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(previousHash, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(accountId, buffer[n..]);
        buffer[n++] = (byte)'|'; streamVersion.TryFormat(buffer[n..], out w, default, CultureInfo.InvariantCulture); n += w;
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(storedType, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(eventId, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(recordedAt, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(payload, buffer[n..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(buffer[..n], hash);
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>The same bytes as <see cref="Compute(long, string, string, long, string, string, string, string)"/>, spelled out once for readers and tests.</summary>
    public static string Preimage(long position, string previousHash, string accountId, long streamVersion, string storedType, string eventId, string recordedAt, string payload) =>
        string.Create(CultureInfo.InvariantCulture, $"{position}|{previousHash}|{accountId}|{streamVersion}|{storedType}|{eventId}|{recordedAt}|{payload}");

    public static string Compute(RecordedEvent e, string previousHash) =>
        Compute(e.Position, previousHash, e.AccountId, e.StreamVersion, e.StoredType, e.EventId, e.RecordedAt, e.Payload);

    /// <summary>Re-checks the whole log from position 1: positions gapless, every hash, and the indexed columns against the payload.</summary>
    public static async Task<VerifyResult> VerifyAsync(IEventStore store, CancellationToken ct = default)
    {
        string previous = Genesis;
        long expected = 1;
        await foreach (var e in store.ReadAllAsync(1, null, ct))
        {
            if (e.Position != expected)
                return VerifyResult.Broken(expected - 1, expected, $"position {expected} is missing (found {e.Position} next)");
            if (Compute(e, previous) != e.Hash)
                return VerifyResult.Broken(expected - 1, e.Position, $"hash mismatch at position {e.Position}: its content, position or predecessor was altered");
            string? columns = CheckColumns(e);
            if (columns is not null)
                return VerifyResult.Broken(expected - 1, e.Position, $"position {e.Position}: {columns}");
            previous = e.Hash;
            expected++;
        }
        // The head row catches a truncated tail, which leaves no gap behind it.
        var head = await store.GetHeadAsync(ct);
        if (head.Position != expected - 1 || head.Hash != previous)
            return VerifyResult.Broken(expected - 1, Math.Min(head.Position, expected),
                $"the log ends at position {expected - 1} but the ledger head records position {head.Position}");
        return VerifyResult.Intact(expected - 1, previous);
    }

    private static string? CheckColumns(RecordedEvent e)
    {
        LedgerEvent parsed;
        try
        {
            parsed = e.Event;
        }
        catch (Exception ex) when (ex is InvalidDataException or System.Text.Json.JsonException)
        {
            return $"payload unreadable: {ex.Message}";
        }
        if (parsed.EventId != e.EventId || parsed.AccountId != e.AccountId)
            return "indexed eventId/accountId differ from the payload";
        return null;
    }
}

public sealed record VerifyResult(bool IsIntact, long VerifiedCount, long? FirstBadPosition, string? Problem, string HeadHash)
{
    public static VerifyResult Intact(long count, string head) => new(true, count, null, null, head);

    public static VerifyResult Broken(long verified, long position, string problem) => new(false, verified, position, problem, "");
}
