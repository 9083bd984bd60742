using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RevenueLedger.Domain;

namespace RevenueLedger.EventStore;

/// <summary>
/// The tamper-evident chain. Each event's hash is
/// <c>SHA-256("{position}|{streamVersion}|{recordedAt}|{previousHash}|{contentDigest}")</c> where
/// <c>contentDigest = SHA-256("{accountId}|{storedType}|{eventId}|{payload}")</c>, all as UTF-8 and hashes as
/// lower-case hex. So each hash covers the event's stored content, its position and the previous hash; the content
/// digest does not depend on the log, so writers compute it before taking the write lock and only the short chain
/// step runs inside it. Hashes are taken over the stored text itself, so verifying never re-serialises anything.
/// </summary>
public static class HashChain
{
    public static readonly string Genesis = new('0', 64);

    /// <summary>recordedAt is stored as this text; the hash covers the text.</summary>
    public static string FormatRecordedAt(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    // '|' cannot occur in ids, type names, timestamps or hex, so no field can run into the next.
    public static string ContentDigest(string accountId, string storedType, string eventId, string payload)
    {
        int max = 3 + Encoding.UTF8.GetMaxByteCount(accountId.Length + storedType.Length + eventId.Length + payload.Length);
        byte[]? rented = null;
        Span<byte> buffer = max <= 4096 ? stackalloc byte[max] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(max));
        int n = Encoding.UTF8.GetBytes(accountId, buffer);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(storedType, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(eventId, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(payload, buffer[n..]);
        var digest = Hex(buffer[..n]);
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        return digest;
    }

    /// <summary>The chain step: the only hashing that must happen in position order.</summary>
    public static string Link(long position, long streamVersion, string recordedAt, string previousHash, string contentDigest)
    {
        Span<byte> buffer = stackalloc byte[256];
        position.TryFormat(buffer, out int n, default, CultureInfo.InvariantCulture);
        buffer[n++] = (byte)'|'; streamVersion.TryFormat(buffer[n..], out int w, default, CultureInfo.InvariantCulture); n += w;
        buffer[n++] = (byte)'|'; n += Encoding.ASCII.GetBytes(recordedAt, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.ASCII.GetBytes(previousHash, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.ASCII.GetBytes(contentDigest, buffer[n..]);
        return Hex(buffer[..n]);
    }

    // One reusable hash context per thread: a one-shot SHA256.HashData sets up a new native context every call,
    // which costs several times the hashing of a few hundred bytes.
    [ThreadStatic] private static IncrementalHash? _sha256;

    private static string Hex(ReadOnlySpan<byte> data)
    {
        var sha = _sha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(data);
        Span<byte> hash = stackalloc byte[32];
        sha.GetHashAndReset(hash);
        return Convert.ToHexStringLower(hash);
    }

    public static string Compute(RecordedEvent e, string previousHash) =>
        Link(e.Position, e.StreamVersion, e.RecordedAt, previousHash, ContentDigest(e.AccountId, e.StoredType, e.EventId, e.Payload));

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
