using System.Collections.Immutable;
using System.Reflection;

namespace RevenueLedger.Domain;

/// <summary>Stable, versioned name under which an event type is stored. Never rename a stored one: add V2 instead.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class EventTypeAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>A closed hierarchy: the events of the spec (§1) and of docs/semantics.md §11. The ledger never stores anything else.</summary>
public abstract record LedgerEvent(string EventId, string AccountId, Metadata Metadata)
{
    /// <summary>The wire name (`type` field of the JSON format).</summary>
    public string WireType => EventTypes.WireName(GetType());

    /// <summary>The stored, versioned name.</summary>
    public string StoredType => EventTypes.StoredName(GetType());
}

/// <summary>Events that belong to one contract's timeline and carry a business date.</summary>
public abstract record ContractEvent(string EventId, string AccountId, string ContractId, DateOnly EffectiveDate, Metadata Metadata)
    : LedgerEvent(EventId, AccountId, Metadata);

[EventType("V1.ContractStarted")]
public sealed record ContractStarted(string EventId, string AccountId, string ContractId, DateOnly EffectiveDate, decimal Mrr, string Currency, Metadata Metadata)
    : ContractEvent(EventId, AccountId, ContractId, EffectiveDate, Metadata);

[EventType("V1.ContractExpanded")]
public sealed record ContractExpanded(string EventId, string AccountId, string ContractId, DateOnly EffectiveDate, decimal Amount, string Currency, string? Reason, Metadata Metadata)
    : ContractEvent(EventId, AccountId, ContractId, EffectiveDate, Metadata);

[EventType("V1.ContractContracted")]
public sealed record ContractContracted(string EventId, string AccountId, string ContractId, DateOnly EffectiveDate, decimal Amount, string Currency, string? Reason, Metadata Metadata)
    : ContractEvent(EventId, AccountId, ContractId, EffectiveDate, Metadata);

[EventType("V1.ContractChurned")]
public sealed record ContractChurned(string EventId, string AccountId, string ContractId, DateOnly EffectiveDate, string? Reason, Metadata Metadata)
    : ContractEvent(EventId, AccountId, ContractId, EffectiveDate, Metadata);

[EventType("V1.OwnerAssigned")]
public sealed record OwnerAssigned(string EventId, string AccountId, string OwnerId, DateOnly EffectiveDate, Metadata Metadata)
    : LedgerEvent(EventId, AccountId, Metadata);

[EventType("V1.EventReversed")]
public sealed record EventReversed(string EventId, string AccountId, string TargetEventId, string? Reason, Metadata Metadata)
    : LedgerEvent(EventId, AccountId, Metadata);

/// <summary>String→string pairs with value equality, kept sorted so serialisation is canonical.</summary>
public sealed class Metadata : IEquatable<Metadata>
{
    public static readonly Metadata Empty = new(ImmutableSortedDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal));

    public Metadata(ImmutableSortedDictionary<string, string> pairs) => Pairs = pairs;

    public ImmutableSortedDictionary<string, string> Pairs { get; }

    public int Count => Pairs.Count;

    public static Metadata From(IEnumerable<KeyValuePair<string, string>> pairs) =>
        new(ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, pairs));

    public bool Equals(Metadata? other) =>
        other is not null && Pairs.Count == other.Pairs.Count &&
        Pairs.All(p => other.Pairs.TryGetValue(p.Key, out var v) && v == p.Value);

    public override bool Equals(object? obj) => Equals(obj as Metadata);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var (k, v) in Pairs) { hash.Add(k); hash.Add(v); }
        return hash.ToHashCode();
    }
}

/// <summary>
/// Spec §10: one unit of <paramref name="Currency"/> is worth <paramref name="Rate"/> units of
/// <paramref name="QuoteCurrency"/> from the start of <paramref name="EffectiveDate"/>. Rates have no account: they
/// live in the stream <see cref="Stream"/>, and a later rate for the same pair and day corrects an earlier one.
/// </summary>
[EventType("V1.FxRateRecorded")]
public sealed record FxRateRecorded(string EventId, string Currency, string QuoteCurrency, DateOnly EffectiveDate, decimal Rate, Metadata Metadata)
    : LedgerEvent(EventId, Stream, Metadata)
{
    /// <summary>The stream of every rate. No account id can collide with it: ids start with a letter or digit.</summary>
    public const string Stream = "$fx";
}

/// <summary>
/// A leading indicator of one account (usage, adoption, a 1–5 fit rating given at onboarding…): the value of
/// <paramref name="Signal"/> from the start of <paramref name="EffectiveDate"/> until the account's next value of it.
/// Signals never change MRR; the health score and the deep dive read them.
/// </summary>
[EventType("V1.SignalRecorded")]
public sealed record SignalRecorded(string EventId, string AccountId, string Signal, decimal Value, DateOnly EffectiveDate, Metadata Metadata)
    : LedgerEvent(EventId, AccountId, Metadata);

/// <summary>
/// What a churn or contraction reason code means and which function is responsible for improving it. Entries live in
/// the stream <see cref="Stream"/>; the latest entry for a code (by position) is in force, so an as-of report reads
/// the catalogue as it was known then.
/// </summary>
[EventType("V1.ReasonCatalogued")]
public sealed record ReasonCatalogued(string EventId, string Reason, string Label, string Function, Metadata Metadata)
    : LedgerEvent(EventId, Stream, Metadata)
{
    public const string Stream = "$reasons";
}

public static class EventTypes
{
    private static readonly Dictionary<Type, (string Wire, string Stored)> ByType = typeof(LedgerEvent).Assembly.GetTypes()
        .Where(t => t.IsSealed && t.IsSubclassOf(typeof(LedgerEvent)))
        .ToDictionary(t => t, t => (t.Name, t.GetCustomAttribute<EventTypeAttribute>()?.Name
            ?? throw new InvalidOperationException($"{t.Name} has no [EventType]")));

    private static readonly Dictionary<string, string> StoredToWire = ByType.Values.ToDictionary(v => v.Stored, v => v.Wire, StringComparer.Ordinal);

    public static string WireName(Type t) => ByType[t].Wire;

    public static string StoredName(Type t) => ByType[t].Stored;

    public static string? WireNameOfStored(string storedName) => StoredToWire.GetValueOrDefault(storedName);
}
