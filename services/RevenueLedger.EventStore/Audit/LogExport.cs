using System.Text.Json;

namespace RevenueLedger.EventStore.Audit;

/// <summary>
/// The log as an auditor takes it away (docs/audit.md): JSON Lines, UTF-8. The first line is the header with the head
/// the store records; then one line per stored event in position order with every text its hash covers, exactly as
/// stored (the payload as a JSON string, so its bytes come back unchanged), and the stored hash.
/// </summary>
public static class LogExport
{
    public const string Format = "revenueledger.export.v1";

    public static async Task<(long Events, StoreHead Head)> WriteAsync(IEventStore store, Stream output, CancellationToken ct = default)
    {
        // The head first, then the rows up to it: a write landing in between is outside this export either way.
        var head = await store.GetHeadAsync(ct);
        await using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("format", Format);
        w.WriteString("genesis", HashChain.Genesis);
        w.WriteNumber("headPosition", head.Position);
        w.WriteString("headHash", head.Hash);
        w.WriteEndObject();
        await w.FlushAsync(ct);
        output.WriteByte((byte)'\n');
        long n = 0;
        // Read to the last stored row, not the head: rows past a damaged head row are exported for the verifier to see.
        await foreach (var e in store.ReadAllAsync(1, null, ct))
        {
            w.Reset();
            w.WriteStartObject();
            w.WriteNumber("position", e.Position);
            w.WriteNumber("streamVersion", e.StreamVersion);
            w.WriteString("recordedAt", e.RecordedAt);
            w.WriteString("accountId", e.AccountId);
            w.WriteString("storedType", e.StoredType);
            w.WriteString("eventId", e.EventId);
            w.WriteString("payload", e.Payload);
            w.WriteString("hash", e.Hash);
            w.WriteEndObject();
            await w.FlushAsync(ct);
            output.WriteByte((byte)'\n');
            n++;
        }
        await output.FlushAsync(ct);
        return (n, head);
    }
}
