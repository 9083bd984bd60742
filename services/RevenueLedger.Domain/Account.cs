using System.Collections.Immutable;
using System.Runtime.InteropServices;

namespace RevenueLedger.Domain;

public enum ContractEventKind : byte { Started, Expanded, Contracted, Churned }

/// <summary>
/// A contract event as the rules need it: kind, place in effective-date order, amount and currency. A compact
/// value (not the whole event) because an importer keeps every account of a large book in memory.
/// </summary>
public readonly record struct TimelineEntry(string EventId, ContractEventKind Kind, DateOnly Date, long Version, decimal Amount, string Currency)
{
    public static TimelineEntry Of(ContractEvent e, long version) => e switch
    {
        ContractStarted s => new(e.EventId, ContractEventKind.Started, e.EffectiveDate, version, s.Mrr, s.Currency),
        ContractExpanded x => new(e.EventId, ContractEventKind.Expanded, e.EffectiveDate, version, x.Amount, x.Currency),
        ContractContracted c => new(e.EventId, ContractEventKind.Contracted, e.EffectiveDate, version, c.Amount, c.Currency),
        ContractChurned => new(e.EventId, ContractEventKind.Churned, e.EffectiveDate, version, 0, ""),
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "not a contract event"),
    };
}

/// <summary>
/// What the consistency boundary (one account) must know to judge a new event: each contract's active events in
/// effective-date order (effectiveDate, then stream version), and the ids a reversal may name or must refuse.
/// </summary>
public sealed record AccountState(
    string AccountId,
    long Version,
    ImmutableDictionary<string, ContractEvents> Contracts,
    ImmutableHashSet<string> RuleFreeEvents,
    ImmutableHashSet<string> Reversals,
    ImmutableHashSet<string> Reversed)
{
    // Immutable, so every new account shares them: most events of a batch are new accounts' first, and four empty
    // collections each were most of what deciding one allocated.
    private static readonly ImmutableDictionary<string, ContractEvents> NoContracts = ImmutableDictionary.Create<string, ContractEvents>(StringComparer.Ordinal);
    private static readonly ImmutableHashSet<string> NoIds = ImmutableHashSet.Create<string>(StringComparer.Ordinal);

    public static AccountState Initial(string accountId) => new(accountId, 0, NoContracts, NoIds, NoIds, NoIds);

    /// <summary>The account currency (spec §2 rule 5): that of its active contracts, or null while it has none.</summary>
    public string? Currency()
    {
        foreach (var (_, timeline) in Contracts)
            if (timeline.Currency is { } currency) return currency;
        return null;
    }

    /// <summary>The active contract event with this id, if any. Reversals are rare, so a scan beats an index here.</summary>
    public (string ContractId, TimelineEntry Entry)? FindContractEvent(string eventId)
    {
        foreach (var (contractId, timeline) in Contracts)
            if (timeline.Find(eventId) is { } entry) return (contractId, entry);
        return null;
    }
}

/// <summary>The submission: an already-parsed event, and what the ledger holds under its eventId, if anything.</summary>
public sealed record SubmitEvent(LedgerEvent Event, ExistingEvent? Existing);

/// <summary>A stored event found under the submitted eventId (it may belong to any account). Position 0: not yet stored.</summary>
public sealed record ExistingEvent(long Position, string StoredType, string CanonicalPayload);

public abstract record Decision
{
    public sealed record Accept(LedgerEvent Event) : Decision;
    public sealed record AlreadyStored(long Position) : Decision;
    public sealed record Refuse(LedgerError Error) : Decision;
}

/// <summary>The account's rules as pure functions (spec §2). No I/O, no clock.</summary>
public static class AccountDecider
{
    public static Decision Decide(SubmitEvent command, AccountState state)
    {
        var e = command.Event;
        if (command.Existing is { } existing)
        {
            bool same = existing.StoredType == e.StoredType && existing.CanonicalPayload == WireFormat.ToCanonicalJson(e);
            return same
                ? new Decision.AlreadyStored(existing.Position)
                : new Decision.Refuse(new LedgerError(Outcome.Conflict, ErrorCodes.EventIdConflict, "eventId",
                    existing.Position > 0
                        ? $"eventId '{e.EventId}' is already stored (position {existing.Position}) with different content"
                        : $"eventId '{e.EventId}' was submitted just before (not yet stored) with different content"));
        }
        if (e.AccountId != state.AccountId)
            throw new ArgumentException($"event of account {e.AccountId} decided against account {state.AccountId}", nameof(command));

        var error = e switch
        {
            ContractEvent c => ValidateInsert(c.ContractId, state.Contracts.GetValueOrDefault(c.ContractId, ContractEvents.Empty), TimelineEntry.Of(c, state.Version + 1))
                ?? (c is ContractStarted s ? ValidateAccountCurrency(s, state) : null),
            EventReversed r => ValidateReversal(r, state),
            OwnerAssigned or SignalRecorded => null,
            // Rates and catalogue entries have no account rules: a later one for the same key corrects the earlier.
            FxRateRecorded or ReasonCatalogued => null,
            _ => throw new ArgumentOutOfRangeException(nameof(command), e.GetType().Name, "unknown event type"),
        };
        return error is null ? new Decision.Accept(e) : new Decision.Refuse(error);
    }

    /// <summary>
    /// Rule 5: every active contract of an account is in one currency, the account's. A new contract in another is
    /// refused (a contract's own later events are held to its currency by rule 4).
    /// </summary>
    private static LedgerError? ValidateAccountCurrency(ContractStarted s, AccountState state) =>
        state.Currency() is { } currency && currency != s.Currency
            ? LedgerError.Rejected(ErrorCodes.AccountCurrencyMismatch,
                $"account '{state.AccountId}' is in {currency}: contract '{s.ContractId}' in {s.Currency} cannot join it (one currency per account; bill it to an account of its own)")
            : null;

    private static LedgerError? ValidateReversal(EventReversed r, AccountState state)
    {
        var target = r.TargetEventId;
        if (state.Reversals.Contains(target))
            return LedgerError.Rejected(ErrorCodes.ReversalOfReversal, $"'{target}' is itself a reversal and cannot be reversed");
        if (state.Reversed.Contains(target))
            return LedgerError.Rejected(ErrorCodes.AlreadyReversed, $"'{target}' is already reversed");
        if (state.RuleFreeEvents.Contains(target)) return null; // an owner assignment or a signal: no timeline rule depends on it
        if (state.FindContractEvent(target) is not { } found)
            return LedgerError.Rejected(ErrorCodes.ReversalTargetNotFound, $"account '{state.AccountId}' has no event '{target}' to reverse");
        var without = state.Contracts[found.ContractId].ToArray().RemoveAll(x => x.EventId == target);
        return ContractTimeline.Validate(found.ContractId, without) is { } broken
            ? LedgerError.Rejected(ErrorCodes.ReversalBreaksTimeline, $"reversing '{target}' would leave contract '{found.ContractId}' invalid: {broken.Message}")
            : null;
    }

    public static AccountState Evolve(AccountState state, LedgerEvent e)
    {
        long version = state.Version + 1;
        return e switch
        {
            ContractEvent c => state with
            {
                Version = version,
                Contracts = state.Contracts.SetItem(c.ContractId, Insert(c.ContractId, state.Contracts.GetValueOrDefault(c.ContractId, ContractEvents.Empty), TimelineEntry.Of(c, version))),
            },
            OwnerAssigned or SignalRecorded => state with { Version = version, RuleFreeEvents = state.RuleFreeEvents.Add(e.EventId) },
            EventReversed r => Reverse(state with { Version = version, Reversals = state.Reversals.Add(r.EventId) }, r.TargetEventId),
            _ => state with { Version = version },
        };
    }

    private static AccountState Reverse(AccountState state, string target)
    {
        var reversed = state with { Reversed = state.Reversed.Add(target), RuleFreeEvents = state.RuleFreeEvents.Remove(target) };
        return state.FindContractEvent(target) is { } found
            ? reversed with
            {
                Contracts = reversed.Contracts.SetItem(found.ContractId,
                    ContractEvents.Of(found.ContractId, reversed.Contracts[found.ContractId].ToArray().RemoveAll(x => x.EventId == target))),
            }
            : reversed;
    }

    public static AccountState Fold(string accountId, IEnumerable<LedgerEvent> events) =>
        events.Aggregate(AccountState.Initial(accountId), Evolve);

    /// <summary>
    /// Inserts at the (effectiveDate, version) place; the new entry always has the highest version, so an entry
    /// dated on or after the contract's last one goes last, which links one node. A back-dated one rebuilds.
    /// </summary>
    private static ContractEvents Insert(string contractId, ContractEvents timeline, TimelineEntry entry) =>
        timeline.GoesLast(entry)
            ? timeline.Append(contractId, entry)
            : ContractEvents.Of(contractId, InsertByDate(timeline.ToArray(), entry));

    private static ImmutableArray<TimelineEntry> InsertByDate(ImmutableArray<TimelineEntry> timeline, TimelineEntry entry)
    {
        int i = timeline.Length;
        while (i > 0 && timeline[i - 1].Date > entry.Date) i--;
        return timeline.Insert(i, entry);
    }

    /// <summary>The timeline with the entry inserted, validated: the latest event against the totals so far, a back-dated one in full.</summary>
    private static LedgerError? ValidateInsert(string contractId, ContractEvents timeline, TimelineEntry entry) =>
        timeline.GoesLast(entry)
            ? timeline.ValidateAppend(contractId, entry)
            : ContractTimeline.Validate(contractId, InsertByDate(timeline.ToArray(), entry));
}

/// <summary>Rules 1–4 of spec §2 over one contract's active events in effective-date order.</summary>
public static class ContractTimeline
{
    /// <summary>What the rules carry from one event of a contract to the next.</summary>
    internal struct Totals
    {
        public int Count;
        public decimal Mrr;
        public string? Currency;
        public DateOnly? ChurnedOn;
    }

    public static LedgerError? Validate(string contractId, ImmutableArray<TimelineEntry> timeline)
    {
        var totals = new Totals();
        foreach (var e in timeline)
            if (Step(contractId, ref totals, e) is { } error) return error;
        return null;
    }

    /// <summary>The rules for the next event of a timeline whose earlier events gave <paramref name="t"/>.</summary>
    internal static LedgerError? Step(string contractId, ref Totals t, TimelineEntry e)
    {
        int i = t.Count++;
        if (t.ChurnedOn is { } churned)
            return LedgerError.Rejected(ErrorCodes.ContractChurned,
                $"contract '{contractId}' is churned on {Dates.Format(churned)}; nothing may follow (a win-back is a new contract), but a {Name(e.Kind)} is dated {Dates.Format(e.Date)}");
        if (i == 0 && e.Kind != ContractEventKind.Started)
            return LedgerError.Rejected(ErrorCodes.ContractNotStarted,
                $"contract '{contractId}' has no ContractStarted on or before {Dates.Format(e.Date)}, so {Name(e.Kind)} has nothing to apply to");
        switch (e.Kind)
        {
            case ContractEventKind.Started when i > 0:
                return LedgerError.Rejected(ErrorCodes.ContractAlreadyStarted, $"contract '{contractId}' is already started; a contract has exactly one ContractStarted");
            case ContractEventKind.Started:
                t.Mrr = e.Amount; t.Currency = e.Currency;
                break;
            case ContractEventKind.Expanded:
                if (e.Currency != t.Currency) return CurrencyMismatch(contractId, t.Currency, e.Currency);
                t.Mrr += e.Amount;
                break;
            case ContractEventKind.Contracted:
                if (e.Currency != t.Currency) return CurrencyMismatch(contractId, t.Currency, e.Currency);
                t.Mrr -= e.Amount;
                if (t.Mrr <= 0)
                    return LedgerError.Rejected(ErrorCodes.ContractionExceedsMrr,
                        $"contraction of {Money.Format(e.Amount)} on {Dates.Format(e.Date)} would leave contract '{contractId}' at MRR {Money.Format(t.Mrr)}; it must stay above 0 (to end a contract, churn it)");
                break;
            case ContractEventKind.Churned:
                t.ChurnedOn = e.Date;
                break;
        }
        return null;
    }

    private static string Name(ContractEventKind kind) => "Contract" + kind;

    private static LedgerError CurrencyMismatch(string contractId, string? expected, string actual) =>
        LedgerError.Rejected(ErrorCodes.CurrencyMismatch, $"contract '{contractId}' is in {expected}, not {actual}");
}

/// <summary>
/// A contract's active events in effective-date order (then version), immutable and sharing its earlier events:
/// adding the contract's latest event, which nearly every event is, links one node and is checked against the totals
/// kept here, instead of copying and re-checking the whole timeline. Back-dated events and reversals rebuild it.
/// </summary>
public sealed class ContractEvents
{
    public static readonly ContractEvents Empty = new(null, default, false);

    private sealed class Node(TimelineEntry entry, Node? previous)
    {
        public readonly TimelineEntry Entry = entry;
        public readonly Node? Previous = previous;
    }

    private readonly Node? _last;
    private readonly ContractTimeline.Totals _totals; // after the last entry
    private readonly bool _broken;                    // an entry broke the rules (never from this ledger): check in full

    private ContractEvents(Node? last, ContractTimeline.Totals totals, bool broken) => (_last, _totals, _broken) = (last, totals, broken);

    public int Count => _totals.Count;

    /// <summary>The contract's currency (its start's), or null when it has no active start.</summary>
    public string? Currency => _totals.Count > 0 ? _totals.Currency : null;

    /// <summary>A new entry (the highest version) dated on or after the last one goes at the end.</summary>
    public bool GoesLast(TimelineEntry entry) => _last is null || _last.Entry.Date <= entry.Date;

    /// <summary>A timeline of valid entries, in order.</summary>
    public static ContractEvents Of(string contractId, ImmutableArray<TimelineEntry> entries)
    {
        var timeline = Empty;
        foreach (var e in entries) timeline = timeline.Append(contractId, e);
        return timeline;
    }

    /// <summary>The rules for <paramref name="entry"/> as the new last event.</summary>
    public LedgerError? ValidateAppend(string contractId, TimelineEntry entry)
    {
        if (_broken) return ContractTimeline.Validate(contractId, ToArray().Add(entry));
        var totals = _totals;
        return ContractTimeline.Step(contractId, ref totals, entry);
    }

    /// <summary>The timeline with <paramref name="entry"/> last. Events are facts: one that breaks the rules is still
    /// added (and later checks then run over the whole timeline, as they would have found it).</summary>
    public ContractEvents Append(string contractId, TimelineEntry entry)
    {
        var totals = _totals;
        // Step runs even on a broken timeline: it keeps the count that ToArray relies on.
        bool stepBroken = ContractTimeline.Step(contractId, ref totals, entry) is not null;
        return new ContractEvents(new Node(entry, _last), totals, _broken || stepBroken);
    }

    public TimelineEntry? Find(string eventId)
    {
        for (var n = _last; n is not null; n = n.Previous)
            if (n.Entry.EventId == eventId) return n.Entry;
        return null;
    }

    public ImmutableArray<TimelineEntry> ToArray()
    {
        var entries = new TimelineEntry[Count];
        int i = entries.Length;
        for (var n = _last; n is not null; n = n.Previous) entries[--i] = n.Entry;
        return ImmutableCollectionsMarshal.AsImmutableArray(entries);
    }
}
