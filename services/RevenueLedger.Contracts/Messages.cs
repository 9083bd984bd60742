using System.Text.Json;

namespace RevenueLedger.Contracts;

// Message contracts on the bus. Their names and shapes are a public interface: add optional members, never change
// or remove one. Events travel in the spec's wire format (JsonElement), so a message is validated by exactly the same
// parser as an HTTP body and refused with the same outcomes.

/// <summary>Submit one revenue event (the spec's wire format). Answered with <see cref="RevenueEventAccepted"/> or <see cref="RevenueEventRefused"/>.</summary>
public sealed record RecordRevenueEvent(JsonElement Event);

/// <summary>Submit events atomically (at most 10,000), as <c>POST /v1/events/batch</c>. Answered with <see cref="RevenueEventsAccepted"/> or <see cref="RevenueEventRefused"/> naming the item.</summary>
public sealed record RecordRevenueEvents(IReadOnlyList<JsonElement> Events);

/// <summary>A submission was stored (or was already stored: <paramref name="Duplicate"/>) at <paramref name="Position"/>.</summary>
public sealed record RevenueEventAccepted(string EventId, long Position, bool Duplicate);

/// <summary>
/// An atomic batch was stored: positions of the newly accepted events (null when every item was a duplicate), and
/// each item's outcome (<c>accepted</c> or <c>duplicate</c>) with its stored position, as the HTTP batch answers.
/// </summary>
public sealed record RevenueEventsAccepted(long? FirstPosition, long? LastPosition, int Accepted, int Duplicates, IReadOnlyList<RevenueEventOutcome>? Items = null);

/// <summary>One item of an accepted batch.</summary>
public sealed record RevenueEventOutcome(int Index, string EventId, string Outcome, long Position);

/// <summary>
/// A submission was refused and nothing was stored. <paramref name="Outcome"/> is <c>invalid</c>, <c>conflict</c> or
/// <c>rejected</c> (spec §2); <paramref name="Code"/> the stable error code (the HTTP problem type's last segment);
/// <paramref name="Index"/> the failing item of a batch. Sent to the sender's response address, else published.
/// </summary>
public sealed record RevenueEventRefused(string? EventId, int? Index, string Outcome, string Code, string? Field, string Reason);

/// <summary>
/// Integration event: an event was recorded in the ledger. Published in position order, at least once: a consumer
/// drops a repeat by its <paramref name="Position"/> (e.g. by keeping the highest position up to which it has seen
/// every event: the relay never skips one, after a failure it resends from the first unconfirmed).
/// </summary>
public sealed record RevenueEventRecorded(long Position, string EventId, string AccountId, string Type, string RecordedAt, string Hash, JsonElement Event);

/// <summary>Notification: the log's head reached <paramref name="Position"/> (projectors wake up).</summary>
public sealed record LedgerAdvanced(long Position);

/// <summary>Notification: the read models of <paramref name="Generation"/> reached <paramref name="Position"/> (gateways answer waiting reads).</summary>
public sealed record ReadModelAdvanced(int Generation, long Position);

/// <summary>
/// Event: a digest of the log's head was signed (docs/audit.md): keep it outside the system, and `ledger verify
/// --digest` proves later that nothing up to <paramref name="Position"/> was rewritten. <paramref name="Signature"/> is
/// base64 DER (ECDSA P-256, SHA-256) over <paramref name="Statement"/>'s ASCII bytes.
/// </summary>
public sealed record DigestSigned(long Position, string HeadHash, string HeadRecordedAt, string SignedAt, string KeyId, string Statement, string Signature);
