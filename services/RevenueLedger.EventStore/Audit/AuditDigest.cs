using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace RevenueLedger.EventStore.Audit;

/// <summary>
/// A signed statement that the log's head was (position, hash) — something an auditor keeps outside the system, so a
/// later rewrite of anything up to that position is caught even if the rewriter recomputed every hash after it.
/// What is signed is <see cref="Statement"/>, one line of ASCII (docs/audit.md): the file carries it as it was signed,
/// with the fields beside it, so `openssl dgst -sha256 -verify` needs nothing but the statement and the signature.
/// </summary>
public sealed record AuditDigest(long Position, string HeadHash, string HeadRecordedAt, string SignedAt, string KeyId, string Signature)
{
    public const string Format = "revenueledger.digest.v1";
    public const string Algorithm = "ECDSA-P256-SHA256";

    public string Statement => string.Create(CultureInfo.InvariantCulture,
        $"{Format}|position={Position}|headHash={HeadHash}|headRecordedAt={HeadRecordedAt}|signedAt={SignedAt}|keyId={KeyId}");

    /// <summary>The signature's bytes: DER (RFC 3279), the form openssl reads.</summary>
    public byte[] SignatureBytes => Convert.FromBase64String(Signature);

    /// <summary>Signs the head of a log; the signing time is given, never read here.</summary>
    public static AuditDigest Sign(long position, string headHash, string headRecordedAt, DateTimeOffset signedAt, SigningKey key)
    {
        if (position < 1) throw new ArgumentOutOfRangeException(nameof(position), "nothing to sign: the log is empty");
        var unsigned = new AuditDigest(position, headHash, headRecordedAt, HashChain.FormatRecordedAt(signedAt), key.KeyId, "");
        var signature = key.Key.SignData(Encoding.ASCII.GetBytes(unsigned.Statement), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        return unsigned with { Signature = Convert.ToBase64String(signature) };
    }

    /// <summary>Signs the store's current head.</summary>
    public static async Task<AuditDigest> SignHeadAsync(IEventStore store, DateTimeOffset signedAt, SigningKey key, CancellationToken ct = default)
    {
        var head = await store.GetHeadAsync(ct);
        if (head.Position == 0) throw new InvalidOperationException("nothing to sign: the log is empty");
        RecordedEvent? last = null;
        await foreach (var e in store.ReadAllAsync(head.Position, head.Position, ct)) last = e;
        if (last is null || last.Hash != head.Hash)
            throw new InvalidOperationException($"the ledger head records position {head.Position} but the log does not hold it as recorded; run verify");
        return Sign(head.Position, head.Hash, last.RecordedAt, signedAt, key);
    }

    /// <summary>Whether <paramref name="publicKey"/> is the key this digest names and its signature is over its statement.</summary>
    public bool IsSignedBy(ECDsa publicKey)
    {
        if (SigningKey.KeyIdOf(publicKey) != KeyId) return false;
        try
        {
            return publicKey.VerifyData(Encoding.ASCII.GetBytes(Statement), SignatureBytes, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteString("algorithm", Algorithm);
            w.WriteNumber("position", Position);
            w.WriteString("headHash", HeadHash);
            w.WriteString("headRecordedAt", HeadRecordedAt);
            w.WriteString("signedAt", SignedAt);
            w.WriteString("keyId", KeyId);
            w.WriteString("statement", Statement);
            w.WriteString("signature", Signature);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>Reads a digest file; its statement must be exactly the one its fields make (else the fields could lie).</summary>
    public static AuditDigest Parse(string json, string source)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var r = doc.RootElement;
            string S(string name) => r.GetProperty(name).GetString() ?? throw new InvalidDataException($"{source}: \"{name}\" is null");
            if (S("format") != Format) throw new InvalidDataException($"{source}: not a {Format} file");
            if (S("algorithm") != Algorithm) throw new InvalidDataException($"{source}: algorithm {S("algorithm")} is not {Algorithm}");
            var d = new AuditDigest(r.GetProperty("position").GetInt64(), S("headHash"), S("headRecordedAt"), S("signedAt"), S("keyId"), S("signature"));
            if (S("statement") != d.Statement) throw new InvalidDataException($"{source}: the statement does not match the fields beside it");
            return d;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: not a readable digest ({ex.Message})", ex);
        }
    }
}
