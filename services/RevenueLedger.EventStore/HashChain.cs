using System.Buffers;
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
        Span<byte> utf8 = max <= 2048 ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
        int n = Encoding.UTF8.GetBytes(payload, utf8);
        Span<byte> digest = stackalloc byte[DigestBytes];
        ContentDigest(accountId, storedType, eventId, utf8[..n], digest);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        return Convert.ToHexStringLower(digest);
    }

    public const int DigestBytes = 32;

    /// <summary>Characters (and ASCII bytes) of a hash's text.</summary>
    public const int HashHexBytes = 64;

    /// <summary>The content digest as its 32 bytes (its text is their lower-case hex), over the payload's UTF-8.</summary>
    public static void ContentDigest(string accountId, string storedType, string eventId, ReadOnlySpan<byte> payloadUtf8, Span<byte> digest)
    {
        // Checked before hashing: a failure half-way would leave data in this thread's hash context.
        if (digest.Length < DigestBytes) throw new ArgumentException($"a digest takes {DigestBytes} bytes", nameof(digest));
        byte[]? rented = null;
        // Stored rows are verified with this too, so a damaged row's overlong id must not overflow the stack.
        int max = 3 + Encoding.UTF8.GetMaxByteCount(accountId.Length + storedType.Length + eventId.Length);
        Span<byte> buffer = max <= 1024 ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
        int n = Encoding.UTF8.GetBytes(accountId, buffer);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(storedType, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.UTF8.GetBytes(eventId, buffer[n..]);
        buffer[n++] = (byte)'|';
        var sha = _sha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(buffer[..n]);
        sha.AppendData(payloadUtf8);
        sha.GetHashAndReset(digest);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
    }

    /// <summary>The chain step: the only hashing that must happen in position order. Over the texts as given.</summary>
    public static string Link(long position, long streamVersion, string recordedAt, string previousHash, string contentDigest)
    {
        Span<byte> hash = stackalloc byte[DigestBytes];
        Link(position, streamVersion, recordedAt, previousHash, contentDigest, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>The chain step with the content digest as its 32 bytes.</summary>
    public static string Link(long position, long streamVersion, string recordedAt, string previousHash, ReadOnlySpan<byte> contentDigest)
    {
        if (contentDigest.Length != DigestBytes) throw new ArgumentException($"a content digest is {DigestBytes} bytes", nameof(contentDigest));
        Span<char> digestHex = stackalloc char[HashHexBytes];
        Convert.TryToHexStringLower(contentDigest, digestHex, out _);
        Span<byte> hash = stackalloc byte[DigestBytes];
        Link(position, streamVersion, recordedAt, previousHash, digestHex, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>
    /// The chain step for an append: the previous hash's hex as ASCII, the content digest as bytes, the new hash's
    /// lower-case hex written as ASCII into <paramref name="hashHex"/> (no string per event).
    /// </summary>
    public static void Link(long position, long streamVersion, ReadOnlySpan<byte> recordedAt, ReadOnlySpan<byte> previousHashHex, ReadOnlySpan<byte> contentDigest, Span<byte> hashHex)
    {
        if (previousHashHex.Length != HashHexBytes) throw new ArgumentException($"a hash is {HashHexBytes} hex digits", nameof(previousHashHex));
        if (contentDigest.Length != DigestBytes) throw new ArgumentException($"a content digest is {DigestBytes} bytes", nameof(contentDigest));
        if (hashHex.Length < HashHexBytes) throw new ArgumentException($"a hash takes {HashHexBytes} bytes of hex", nameof(hashHex));
        if (recordedAt.Length > 64) throw new ArgumentException("not a recordedAt text", nameof(recordedAt));
        Span<byte> buffer = stackalloc byte[256]; // at most 20 + 20 + 64 + 64 + 64 + 4
        position.TryFormat(buffer, out int n, default, CultureInfo.InvariantCulture);
        buffer[n++] = (byte)'|'; streamVersion.TryFormat(buffer[n..], out int w, default, CultureInfo.InvariantCulture); n += w;
        buffer[n++] = (byte)'|'; recordedAt.CopyTo(buffer[n..]); n += recordedAt.Length;
        buffer[n++] = (byte)'|'; previousHashHex.CopyTo(buffer[n..]); n += previousHashHex.Length;
        buffer[n++] = (byte)'|'; Convert.TryToHexStringLower(contentDigest, buffer[n..], out w); n += w;
        Span<byte> hash = stackalloc byte[DigestBytes];
        Sha256(buffer[..n], hash);
        Convert.TryToHexStringLower(hash, hashHex, out _);
    }

    /// <summary>The chain step over texts (ASCII, as stored; a damaged row's other characters hash as '?').</summary>
    private static void Link(long position, long streamVersion, ReadOnlySpan<char> recordedAt, ReadOnlySpan<char> previousHash, ReadOnlySpan<char> contentDigest, Span<byte> hash)
    {
        byte[]? rented = null;
        int max = 44 + recordedAt.Length + previousHash.Length + contentDigest.Length;
        Span<byte> buffer = max <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(max));
        position.TryFormat(buffer, out int n, default, CultureInfo.InvariantCulture);
        buffer[n++] = (byte)'|'; streamVersion.TryFormat(buffer[n..], out int w, default, CultureInfo.InvariantCulture); n += w;
        buffer[n++] = (byte)'|'; n += Encoding.ASCII.GetBytes(recordedAt, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.ASCII.GetBytes(previousHash, buffer[n..]);
        buffer[n++] = (byte)'|'; n += Encoding.ASCII.GetBytes(contentDigest, buffer[n..]);
        Sha256(buffer[..n], hash);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
    }

    private static void Sha256(ReadOnlySpan<byte> data, Span<byte> hash)
    {
        var sha = _sha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(data);
        sha.GetHashAndReset(hash);
    }

    // One reusable hash context per thread: a one-shot SHA256.HashData sets up a new native context every call,
    // which costs several times the hashing of a few hundred bytes.
    [ThreadStatic] private static IncrementalHash? _sha256;

    public static string Compute(RecordedEvent e, string previousHash) =>
        Link(e.Position, e.StreamVersion, e.RecordedAt, previousHash, ContentDigest(e.AccountId, e.StoredType, e.EventId, e.Payload));

    /// <summary>Re-checks the whole log from position 1: positions gapless, every hash, and the indexed columns against the payload.</summary>
    public static Task<VerifyResult> VerifyAsync(IEventStore store, CancellationToken ct = default) => VerifyAsync(store, [], ct);

    /// <summary>
    /// Re-checks the whole log and, at each signed digest's position, that the stored hash is the signed one — which
    /// is what catches a rewrite that recomputed every hash after the change (the chain alone is then consistent).
    /// Signatures are the caller's to check first (<see cref="Audit.AuditDigest.IsSignedBy"/>).
    /// </summary>
    public static async Task<VerifyResult> VerifyAsync(IEventStore store, IReadOnlyList<Audit.AuditDigest> digests, CancellationToken ct = default)
    {
        if (store is IChainRowSource rows) return await VerifyRowsAsync(store, rows, digests, ct);
        var signed = digests.GroupBy(d => d.Position).ToDictionary(g => g.Key, g => g.ToList());
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
            if (signed.TryGetValue(e.Position, out var atHere) && atHere.FirstOrDefault(d => d.HeadHash != e.Hash) is { } differs)
                return VerifyResult.Broken(expected - 1, e.Position,
                    $"the stored hash at position {e.Position} is {e.Hash}, but the digest signed {differs.SignedAt} by key {differs.KeyId} says {differs.HeadHash}: " +
                    "the log up to this position was rewritten with its hashes recomputed (the change is at or before it; an earlier digest narrows it down)");
            previous = e.Hash;
            expected++;
        }
        return await EndAsync(store, digests, expected, previous, ct);
    }

    /// <summary>After the last stored row: a digest beyond it, or a head record that disagrees, means a removed tail.</summary>
    private static async Task<VerifyResult> EndAsync(IEventStore store, IReadOnlyList<Audit.AuditDigest> digests, long expected, string previous, CancellationToken ct)
    {
        if (digests.Where(d => d.Position >= expected).MinBy(d => d.Position) is { } beyond)
            return VerifyResult.Broken(expected - 1, expected,
                $"the log ends at position {expected - 1}, but a digest signed {beyond.SignedAt} says it reached position {beyond.Position}: the tail was removed");
        // The head row catches a truncated tail, which leaves no gap behind it.
        var head = await store.GetHeadAsync(ct);
        if (head.Position != expected - 1 || head.Hash != previous)
            return VerifyResult.Broken(expected - 1, Math.Min(head.Position, expected),
                $"the log ends at position {expected - 1} but the ledger head records position {head.Position}");
        return VerifyResult.Intact(expected - 1, previous);
    }

    /// <summary>
    /// The same checks over stored bytes, on both cores: the log is split in two position ranges read at once. Each
    /// link can be checked on its own against the stored hash before it, so the later range starts from the stored
    /// hash at the split — which the earlier range verifies; only if it does is the later range's finding the first.
    /// </summary>
    private static async Task<VerifyResult> VerifyRowsAsync(IEventStore store, IChainRowSource source, IReadOnlyList<Audit.AuditDigest> digests, CancellationToken ct)
    {
        var signed = digests.GroupBy(d => d.Position).ToDictionary(g => g.Key, g => g.ToList());
        // The head only chooses where to split; a wrong head (a removed tail) is found by EndAsync as before.
        long split = (await store.GetHeadAsync(ct)).Position / 2;
        if (split < 1)
        {
            var whole = await Task.Run(() => VerifyRangeAsync(source, new LinkState(1, null), signed, ct), ct);
            return whole.Broken ?? await EndAsync(store, digests, whole.Expected, Encoding.ASCII.GetString(whole.Previous), ct);
        }
        using var stopLater = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var later = Task.Run(() => VerifyRangeAsync(source, new LinkState(split, null) { Anchored = false }, signed, stopLater.Token), stopLater.Token);
        LinkState earlier;
        try
        {
            earlier = await Task.Run(() => VerifyRangeAsync(source, new LinkState(1, split), signed, ct), ct);
        }
        catch
        {
            await StopAsync(later, stopLater);
            throw;
        }
        if (earlier.Broken is not null)
        {
            // The earlier range's finding is the first, whatever the later one finds.
            await StopAsync(later, stopLater);
            return earlier.Broken;
        }
        var rest = await later;
        if (earlier.Expected != split + 1)
        {
            // The earlier range ended short of the split: its last row is the log's last, or rows are missing after it.
            if (rest.FirstSeen is not { } next) return await EndAsync(store, digests, earlier.Expected, Encoding.ASCII.GetString(earlier.Previous), ct);
            return VerifyResult.Broken(earlier.Expected - 1, earlier.Expected, $"position {earlier.Expected} is missing (found {next} next)");
        }
        if (!rest.Anchored) throw new InvalidOperationException($"position {split} was read by one range and not the other: the store changed during verify");
        return rest.Broken ?? await EndAsync(store, digests, rest.Expected, Encoding.ASCII.GetString(rest.Previous), ct);
    }

    private static async Task StopAsync(Task<LinkState> later, CancellationTokenSource stop)
    {
        await stop.CancelAsync();
        try
        {
            await later;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // stopped on purpose
        }
    }

    private static async Task<LinkState> VerifyRangeAsync(IChainRowSource source, LinkState state, Dictionary<long, List<Audit.AuditDigest>> signed, CancellationToken ct)
    {
        await foreach (var batch in source.ReadChainAsync(state.From, state.To, ct))
        {
            Prepare(batch);
            if ((state.Broken = Link(batch, state, signed)) is not null || state.Stopped) break;
        }
        return state;
    }

    /// <summary>
    /// One range's walk. Starting at position 1 it links from the genesis; starting later it is not anchored until it
    /// has read the row at <see cref="From"/>, whose stored hash the earlier range vouches for.
    /// </summary>
    private sealed class LinkState(long from, long? to)
    {
        public long From { get; } = from;

        public long? To { get; } = to;

        public byte[] Previous { get; } = Encoding.ASCII.GetBytes(Genesis);

        public long Expected { get; set; } = from;

        public bool Anchored { get; set; } = true;

        public long? FirstSeen { get; set; }

        /// <summary>The first row was not the anchor: nothing after it can be linked here.</summary>
        public bool Stopped { get; set; }

        public VerifyResult? Broken { get; set; }
    }

    private static void Prepare(ChainRows batch)
    {
        var digests = new byte[batch.Count * DigestBytes];
        var problems = new string?[batch.Count];
        var sha = _sha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int i = 0; i < batch.Count; i++)
        {
            var r = batch[i];
            sha.AppendData(batch.Content(r));
            sha.GetHashAndReset(digests.AsSpan(i * DigestBytes, DigestBytes));
            problems[i] = CheckColumns(batch.Payload(r), batch.EventId(r), batch.AccountId(r));
        }
        (batch.Digests, batch.Problems) = (digests, problems);
    }

    private static VerifyResult? Link(ChainRows batch, LinkState state, Dictionary<long, List<Audit.AuditDigest>> signed)
    {
        Span<byte> hash = stackalloc byte[HashHexBytes];
        for (int i = 0; i < batch.Count; i++)
        {
            var r = batch[i];
            state.FirstSeen ??= r.Position;
            if (!state.Anchored)
            {
                if (r.Position != state.From || batch.Hash(r).Length != HashHexBytes)
                {
                    state.Stopped = true;
                    return null;
                }
                batch.Hash(r).CopyTo(state.Previous);
                (state.Anchored, state.Expected) = (true, r.Position + 1);
                continue;
            }
            long expected = state.Expected;
            if (r.Position != expected)
                return VerifyResult.Broken(expected - 1, expected, $"position {expected} is missing (found {r.Position} next)");
            var stored = batch.Hash(r);
            var recordedAt = batch.RecordedAt(r);
            // A damaged row's texts may be of any length; a valid one's are not, and then it cannot match.
            bool plausible = stored.Length == HashHexBytes && recordedAt.Length <= 64;
            if (plausible) Link(r.Position, r.StreamVersion, recordedAt, state.Previous, batch.Digests.AsSpan(i * DigestBytes, DigestBytes), hash);
            if (!plausible || !hash.SequenceEqual(stored))
                return VerifyResult.Broken(expected - 1, r.Position, $"hash mismatch at position {r.Position}: its content, position or predecessor was altered");
            if (batch.Problems[i] is { } problem)
                return VerifyResult.Broken(expected - 1, r.Position, $"position {r.Position}: {problem}");
            if (signed.TryGetValue(r.Position, out var atHere))
            {
                string text = Encoding.ASCII.GetString(stored);
                if (atHere.FirstOrDefault(d => d.HeadHash != text) is { } differs)
                    return VerifyResult.Broken(expected - 1, r.Position,
                        $"the stored hash at position {r.Position} is {text}, but the digest signed {differs.SignedAt} by key {differs.KeyId} says {differs.HeadHash}: " +
                        "the log up to this position was rewritten with its hashes recomputed (the change is at or before it; an earlier digest narrows it down)");
            }
            stored.CopyTo(state.Previous);
            state.Expected = expected + 1;
        }
        return null;
    }

    /// <summary>The payload is one JSON object whose eventId and accountId are the row's (rates and reason catalogue entries carry no accountId: their streams are "$fx" and "$reasons").</summary>
    private static string? CheckColumns(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> eventId, ReadOnlySpan<byte> accountId)
    {
        try
        {
            var r = new System.Text.Json.Utf8JsonReader(payload);
            if (!r.Read() || r.TokenType != System.Text.Json.JsonTokenType.StartObject) return "payload unreadable: not a JSON object";
            bool idMatches = false, accountSeen = false, accountMatches = false;
            while (r.Read() && r.TokenType == System.Text.Json.JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("eventId"u8))
                {
                    r.Read();
                    idMatches = r.TokenType == System.Text.Json.JsonTokenType.String && r.ValueTextEquals(eventId);
                }
                else if (r.ValueTextEquals("accountId"u8))
                {
                    r.Read();
                    accountSeen = true;
                    accountMatches = r.TokenType == System.Text.Json.JsonTokenType.String && r.ValueTextEquals(accountId);
                }
                else
                {
                    r.Read();
                    r.Skip();
                }
            }
            if (r.TokenType != System.Text.Json.JsonTokenType.EndObject || r.Read()) return "payload unreadable: not one JSON object";
            if (!idMatches || (accountSeen ? !accountMatches : !(accountId.SequenceEqual("$fx"u8) || accountId.SequenceEqual("$reasons"u8))))
                return "indexed eventId/accountId differ from the payload";
            return null;
        }
        catch (System.Text.Json.JsonException ex)
        {
            return $"payload unreadable: {ex.Message}";
        }
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
