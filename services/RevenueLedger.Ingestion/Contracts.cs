using System.Text.Json;

namespace RevenueLedger.Ingestion;

/// <summary>
/// An event submission as on the wire (spec §1). Documentation only: bodies are parsed by the ledger's strict
/// parser, which refuses unknown fields and reads money as exact decimals.
/// </summary>
public sealed record EventSubmission(
    string Type, string AccountId, string? EventId, string? ContractId, string? OwnerId, string? TargetEventId,
    string? EffectiveDate, string? Mrr, string? Amount, string? Currency, string? Reason, IReadOnlyDictionary<string, string>? Metadata);

public sealed record BatchSubmission(IReadOnlyList<EventSubmission> Events);

public sealed record Submitted(string EventId, long Position);

public sealed record BatchItem(int Index, string EventId, string Outcome, long Position);

/// <summary>Positions span the newly stored events (null when every item was a duplicate).</summary>
public sealed record BatchSubmitted(long? FirstPosition, long? LastPosition, int Accepted, int Duplicates, IReadOnlyList<BatchItem> Items);

/// <summary>A stored event for auditors: where and when it was recorded, its chain hash, and whether it was later reversed.</summary>
public sealed record StoredEvent(long Position, string AccountId, long StreamVersion, string Type, string StoredType, string EventId,
    string RecordedAt, string Hash, bool Reversed, JsonElement Event);

public sealed record AccountEvents(string AccountId, long Position, IReadOnlyList<StoredEvent> Events);

public sealed record LogPage(long FromPosition, int Limit, long Head, long? NextFromPosition, IReadOnlyList<StoredEvent> Events);
