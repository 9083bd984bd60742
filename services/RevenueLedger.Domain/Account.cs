using System.Collections.Immutable;

namespace RevenueLedger.Domain;

/// <summary>An event of the account with its place in the stream; stream order is commit order within the account.</summary>
public sealed record AccountEntry(LedgerEvent Event, long Version, bool Reversed);

/// <summary>
/// What the consistency boundary (one account) must know to judge a new event: every event by id (for reversals)
/// and each contract's active events in effective-date order (effectiveDate, then stream version).
/// </summary>
public sealed record AccountState(
    string AccountId,
    long Version,
    ImmutableDictionary<string, AccountEntry> Events,
    ImmutableDictionary<string, ImmutableList<AccountEntry>> Contracts)
{
    public static AccountState Initial(string accountId) =>
        new(accountId, 0, ImmutableDictionary.Create<string, AccountEntry>(StringComparer.Ordinal),
            ImmutableDictionary.Create<string, ImmutableList<AccountEntry>>(StringComparer.Ordinal));
}

/// <summary>The submission: an already-parsed event, and what the ledger holds under its eventId, if anything.</summary>
public sealed record SubmitEvent(LedgerEvent Event, ExistingEvent? Existing);

/// <summary>A stored event found under the submitted eventId (it may belong to any account).</summary>
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
                        : $"eventId '{e.EventId}' was submitted earlier in this batch with different content"));
        }
        if (e.AccountId != state.AccountId)
            throw new ArgumentException($"event of account {e.AccountId} decided against account {state.AccountId}", nameof(command));

        var error = e switch
        {
            ContractEvent c => ContractTimeline.Validate(c.ContractId, Insert(state.Contracts.GetValueOrDefault(c.ContractId, []), new AccountEntry(c, state.Version + 1, false))),
            EventReversed r => ValidateReversal(r, state),
            OwnerAssigned => null,
            _ => throw new ArgumentOutOfRangeException(nameof(command), e.GetType().Name, "unknown event type"),
        };
        return error is null ? new Decision.Accept(e) : new Decision.Refuse(error);
    }

    private static LedgerError? ValidateReversal(EventReversed r, AccountState state)
    {
        if (!state.Events.TryGetValue(r.TargetEventId, out var target))
            return LedgerError.Rejected(ErrorCodes.ReversalTargetNotFound, $"account '{state.AccountId}' has no event '{r.TargetEventId}' to reverse");
        if (target.Event is EventReversed)
            return LedgerError.Rejected(ErrorCodes.ReversalOfReversal, $"'{r.TargetEventId}' is itself a reversal and cannot be reversed");
        if (target.Reversed)
            return LedgerError.Rejected(ErrorCodes.AlreadyReversed, $"'{r.TargetEventId}' is already reversed");
        if (target.Event is not ContractEvent c) return null;
        var without = state.Contracts[c.ContractId].RemoveAll(x => x.Event.EventId == c.EventId);
        return ContractTimeline.Validate(c.ContractId, without) is { } broken
            ? LedgerError.Rejected(ErrorCodes.ReversalBreaksTimeline, $"reversing '{r.TargetEventId}' would leave contract '{c.ContractId}' invalid: {broken.Message}")
            : null;
    }

    public static AccountState Evolve(AccountState state, LedgerEvent e)
    {
        var version = state.Version + 1;
        var entry = new AccountEntry(e, version, false);
        var next = state with { Version = version, Events = state.Events.SetItem(e.EventId, entry) };
        return e switch
        {
            ContractEvent c => next with
            {
                Contracts = next.Contracts.SetItem(c.ContractId, Insert(next.Contracts.GetValueOrDefault(c.ContractId, []), entry)),
            },
            EventReversed r when next.Events.TryGetValue(r.TargetEventId, out var target) => Reverse(next, target),
            _ => next,
        };
    }

    private static AccountState Reverse(AccountState state, AccountEntry target)
    {
        var reversed = target with { Reversed = true };
        var events = state.Events.SetItem(target.Event.EventId, reversed);
        var contracts = target.Event is ContractEvent c
            ? state.Contracts.SetItem(c.ContractId, state.Contracts[c.ContractId].RemoveAll(x => x.Event.EventId == c.EventId))
            : state.Contracts;
        return state with { Events = events, Contracts = contracts };
    }

    public static AccountState Fold(string accountId, IEnumerable<LedgerEvent> events) =>
        events.Aggregate(AccountState.Initial(accountId), Evolve);

    /// <summary>Inserts at the (effectiveDate, version) place; the new entry always has the highest version.</summary>
    private static ImmutableList<AccountEntry> Insert(ImmutableList<AccountEntry> timeline, AccountEntry entry)
    {
        var date = ((ContractEvent)entry.Event).EffectiveDate;
        int i = timeline.Count;
        while (i > 0 && ((ContractEvent)timeline[i - 1].Event).EffectiveDate > date) i--;
        return timeline.Insert(i, entry);
    }
}

/// <summary>Rules 1–4 of spec §2 over one contract's active events in effective-date order.</summary>
public static class ContractTimeline
{
    public static LedgerError? Validate(string contractId, IReadOnlyList<AccountEntry> timeline)
    {
        decimal mrr = 0;
        string? currency = null;
        ContractChurned? churned = null;
        for (int i = 0; i < timeline.Count; i++)
        {
            var e = (ContractEvent)timeline[i].Event;
            var on = Dates.Format(e.EffectiveDate);
            if (churned is not null)
                return LedgerError.Rejected(ErrorCodes.ContractChurned,
                    $"contract '{contractId}' is churned on {Dates.Format(churned.EffectiveDate)}; nothing may follow (a win-back is a new contract), but {e.WireType} is dated {on}");
            if (i == 0 && e is not ContractStarted)
                return LedgerError.Rejected(ErrorCodes.ContractNotStarted,
                    $"contract '{contractId}' has no ContractStarted on or before {on}, so {e.WireType} has nothing to apply to");
            switch (e)
            {
                case ContractStarted s when i > 0:
                    return LedgerError.Rejected(ErrorCodes.ContractAlreadyStarted, $"contract '{contractId}' is already started; a contract has exactly one ContractStarted");
                case ContractStarted s:
                    mrr = s.Mrr; currency = s.Currency;
                    break;
                case ContractExpanded x:
                    if (x.Currency != currency) return CurrencyMismatch(contractId, currency, x.Currency);
                    mrr += x.Amount;
                    break;
                case ContractContracted c:
                    if (c.Currency != currency) return CurrencyMismatch(contractId, currency, c.Currency);
                    mrr -= c.Amount;
                    if (mrr <= 0)
                        return LedgerError.Rejected(ErrorCodes.ContractionExceedsMrr,
                            $"contraction of {Money.Format(c.Amount)} on {on} would leave contract '{contractId}' at MRR {Money.Format(mrr)}; it must stay above 0 (to end a contract, churn it)");
                    break;
                case ContractChurned ch:
                    churned = ch;
                    break;
            }
        }
        return null;
    }

    private static LedgerError CurrencyMismatch(string contractId, string? expected, string actual) =>
        LedgerError.Rejected(ErrorCodes.CurrencyMismatch, $"contract '{contractId}' is in {expected}, not {actual}");
}
