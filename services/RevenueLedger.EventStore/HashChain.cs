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
        byte[]? rented = null;
        int max = Encoding.UTF8.GetMaxByteCount(payload.Length);
        Span<byte> utf8 = max <= 2048 ? stackalloc byte[max] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(max));
        int n = Encoding.UTF8.GetBytes(payload, utf8);
        Span<byte> digest = stackalloc byte[DigestBytes];
        ContentDigest(accountId, storedType, eventId, utf8[..n], digest);
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        return Convert.ToHexStringLower(digest);
    }

    public const int DigestBytes = 32;

    /// <summary>The content digest as its 32 bytes (its text is their lower-case hex), over the payload's UTF-8.</summary>
    public static void ContentDigest(string accountId, string storedType, string eventId, ReadOnlySpan<byte> payloadUtf8, Span<byte> digest)
    {
        int max = 3 + Encoding.UTF8.GetMaxByteCount(accountId.Length + storedType.Length + eventId.Length);
        Span<byte> buffer = stackalloc byte[max];
        int n = Encoding.UTF8.GetBytes(accountId, buffer);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(storedType, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(eventId, buffer[n..]);
        buffer[n++] = (byte)'|';
        var sha = _sha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(buffer[..n]);
        sha.AppendData(payloadUtf8);
        sha.GetHashAndReset(digest);
    }

    /// <summary>The chain step: the only hashing that must happen in position order.</summary>
    public static string Link(long position, long streamVersion, string recordedAt, string previousHash, string contentDigest)
    {
        Span<byte> digest = stackalloc byte[DigestBytes];
        if (contentDigest.Length != 2 * DigestBytes || Convert.FromHexString(contentDigest, digest, out _, out int written) != System.Buffers.OperationStatus.Done || written != DigestBytes)
            throw new ArgumentException("a content digest is 64 hex digits", nameof(contentDigest));
        return Link(position, streamVersion, recordedAt, previousHash, digest);
    }

    /// <summary>The chain step with the content digest as bytes.</summary>
    public static string Link(long position, long streamVersion, string recordedAt, string previousHash, ReadOnlySpan<byte> contentDigest)
    {
        Span<byte> time = stackalloc byte[recordedAt.Length];
        Span<byte> previous = stackalloc byte[previousHash.Length];
        Span<byte> hash = stackalloc byte[HashHexBytes];
        Link(position, streamVersion, time[..Encoding.ASCII.GetBytes(recordedAt, time)], previous[..Encoding.ASCII.GetBytes(previousHash, previous)], contentDigest, hash);
        return Encoding.ASCII.GetString(hash);
    }

    /// <summary>Characters (and ASCII bytes) of a hash's text.</summary>
    public const int HashHexBytes = 64;

    /// <summary>
    /// The chain step over ASCII texts (recordedAt, the previous hash's hex), writing the new hash's lower-case hex
    /// into <paramref name="hashHex"/>: no string per event on the append path.
    /// </summary>
    public static void Link(long position, long streamVersion, ReadOnlySpan<byte> recordedAt, ReadOnlySpan<byte> previousHashHex, ReadOnlySpan<byte> contentDigest, Span<byte> hashHex)
    {
        Span<byte> buffer = stackalloc byte[256];
        position.TryFormat(buffer, out int n, default, CultureInfo.InvariantCulture);
        buffer[n++] = (byte)'|'; streamVersion.TryFormat(buffer[n..], out int w, default, CultureInfo.InvariantCulture); n += w;
        buffer[n++] = (byte)'|'; recordedAt.CopyTo(buffer[n..]); n += recordedAt.Length;
        buffer[n++] = (byte)'|'; previousHashHex.CopyTo(buffer[n..]); n += previousHashHex.Length;
        buffer[n++] = (byte)'|'; Convert.TryToHexStringLower(contentDigest, buffer[n..], out w); n += w;
        var sha = _sha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(buffer[..n]);
        Span<byte> hash = stackalloc byte[DigestBytes];
        sha.GetHashAndReset(hash);
        Convert.TryToHexStringLower(hash, hashHex, out _);
    }

    // One reusable hash context per thread: a one-shot SHA256.HashData sets up a new native context every call,
    // which costs several times the hashing of a few hundred bytes.
    [ThreadStatic] private static IncrementalHash? _sha256;

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
