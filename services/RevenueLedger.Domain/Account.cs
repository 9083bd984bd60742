using System.Collections.Immutable;

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
    ImmutableDictionary<string, ImmutableArray<TimelineEntry>> Contracts,
    ImmutableHashSet<string> OwnerAssignments,
    ImmutableHashSet<string> Reversals,
    ImmutableHashSet<string> Reversed)
{
    public static AccountState Initial(string accountId) =>
        new(accountId, 0, ImmutableDictionary.Create<string, ImmutableArray<TimelineEntry>>(StringComparer.Ordinal),
            ImmutableHashSet.Create<string>(StringComparer.Ordinal), ImmutableHashSet.Create<string>(StringComparer.Ordinal),
            ImmutableHashSet.Create<string>(StringComparer.Ordinal));

    /// <summary>The active contract event with this id, if any. Reversals are rare, so a scan beats an index here.</summary>
    public (string ContractId, TimelineEntry Entry)? FindContractEvent(string eventId)
    {
        foreach (var (contractId, timeline) in Contracts)
            foreach (var entry in timeline)
                if (entry.EventId == eventId) return (contractId, entry);
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
            ContractEvent c => ValidateInsert(c.ContractId, state.Contracts.GetValueOrDefault(c.ContractId, []), TimelineEntry.Of(c, state.Version + 1)),
            EventReversed r => ValidateReversal(r, state),
            OwnerAssigned => null,
            _ => throw new ArgumentOutOfRangeException(nameof(command), e.GetType().Name, "unknown event type"),
        };
        return error is null ? new Decision.Accept(e) : new Decision.Refuse(error);
    }

    private static LedgerError? ValidateReversal(EventReversed r, AccountState state)
    {
        var target = r.TargetEventId;
        if (state.Reversals.Contains(target))
            return LedgerError.Rejected(ErrorCodes.ReversalOfReversal, $"'{target}' is itself a reversal and cannot be reversed");
        if (state.Reversed.Contains(target))
            return LedgerError.Rejected(ErrorCodes.AlreadyReversed, $"'{target}' is already reversed");
        if (state.OwnerAssignments.Contains(target)) return null;
        if (state.FindContractEvent(target) is not { } found)
            return LedgerError.Rejected(ErrorCodes.ReversalTargetNotFound, $"account '{state.AccountId}' has no event '{target}' to reverse");
        var without = state.Contracts[found.ContractId].RemoveAll(x => x.EventId == target);
        return ContractTimeline.Validate(found.ContractId, without) is { } broken
            ? LedgerError.Rejected(ErrorCodes.ReversalBreaksTimeline, $"reversing '{target}' would leave contract '{found.ContractId}' invalid: {broken.Message}")
            : null;
    }

    public static AccountState Evolve(AccountState state, LedgerEvent e)
    {
        var next = state with { Version = state.Version + 1 };
        return e switch
        {
            ContractEvent c => next with
            {
                Contracts = next.Contracts.SetItem(c.ContractId, Insert(next.Contracts.GetValueOrDefault(c.ContractId, []), TimelineEntry.Of(c, next.Version))),
            },
            OwnerAssigned o => next with { OwnerAssignments = next.OwnerAssignments.Add(o.EventId) },
            EventReversed r => Reverse(next with { Reversals = next.Reversals.Add(r.EventId) }, r.TargetEventId),
            _ => next,
        };
    }

    private static AccountState Reverse(AccountState state, string target)
    {
        var reversed = state with { Reversed = state.Reversed.Add(target), OwnerAssignments = state.OwnerAssignments.Remove(target) };
        return state.FindContractEvent(target) is { } found
            ? reversed with { Contracts = reversed.Contracts.SetItem(found.ContractId, reversed.Contracts[found.ContractId].RemoveAll(x => x.EventId == target)) }
            : reversed;
    }

    public static AccountState Fold(string accountId, IEnumerable<LedgerEvent> events) =>
        events.Aggregate(AccountState.Initial(accountId), Evolve);

    /// <summary>Inserts at the (effectiveDate, version) place; the new entry always has the highest version.</summary>
    private static ImmutableArray<TimelineEntry> Insert(ImmutableArray<TimelineEntry> timeline, TimelineEntry entry) =>
        timeline.Insert(InsertionPoint(timeline, entry), entry);

    private static int InsertionPoint(ImmutableArray<TimelineEntry> timeline, TimelineEntry entry)
    {
        int i = timeline.Length;
        while (i > 0 && timeline[i - 1].Date > entry.Date) i--;
        return i;
    }

    /// <summary>
    /// The timeline with the entry inserted, validated. Most events are the latest of their contract, so they are
    /// checked in place without copying the timeline; a back-dated one is checked on a copy.
    /// </summary>
    private static LedgerError? ValidateInsert(string contractId, ImmutableArray<TimelineEntry> timeline, TimelineEntry entry)
    {
        int at = InsertionPoint(timeline, entry);
        return at == timeline.Length
            ? ContractTimeline.Validate(contractId, timeline.AsSpan(), entry)
            : ContractTimeline.Validate(contractId, timeline.Insert(at, entry));
    }
}

/// <summary>Rules 1–4 of spec §2 over one contract's active events in effective-date order.</summary>
public static class ContractTimeline
{
    public static LedgerError? Validate(string contractId, ImmutableArray<TimelineEntry> timeline) => Validate(contractId, timeline.AsSpan(), null);

    /// <summary>The timeline followed by <paramref name="last"/>, when given.</summary>
    public static LedgerError? Validate(string contractId, ReadOnlySpan<TimelineEntry> timeline, TimelineEntry? last)
    {
        decimal mrr = 0;
        string? currency = null;
        DateOnly? churnedOn = null;
        int count = timeline.Length + (last is null ? 0 : 1);
        for (int i = 0; i < count; i++)
        {
            var e = i < timeline.Length ? timeline[i] : last!.Value;
            if (churnedOn is { } churned)
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
                    mrr = e.Amount; currency = e.Currency;
                    break;
                case ContractEventKind.Expanded:
                    if (e.Currency != currency) return CurrencyMismatch(contractId, currency, e.Currency);
                    mrr += e.Amount;
                    break;
                case ContractEventKind.Contracted:
                    if (e.Currency != currency) return CurrencyMismatch(contractId, currency, e.Currency);
                    mrr -= e.Amount;
                    if (mrr <= 0)
                        return LedgerError.Rejected(ErrorCodes.ContractionExceedsMrr,
                            $"contraction of {Money.Format(e.Amount)} on {Dates.Format(e.Date)} would leave contract '{contractId}' at MRR {Money.Format(mrr)}; it must stay above 0 (to end a contract, churn it)");
                    break;
                case ContractEventKind.Churned:
                    churnedOn = e.Date;
                    break;
            }
        }
        return null;
    }

    private static string Name(ContractEventKind kind) => "Contract" + kind;

    private static LedgerError CurrencyMismatch(string contractId, string? expected, string actual) =>
        LedgerError.Rejected(ErrorCodes.CurrencyMismatch, $"contract '{contractId}' is in {expected}, not {actual}");
}
