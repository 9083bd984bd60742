using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.EventStore;

namespace RevenueLedger.Application;

/// <summary>Every account's history as known at one log position (spec §8): the input of every report.</summary>
public sealed class LedgerSnapshot(long position, IReadOnlyList<AccountHistory> accounts)
{
    public long Position { get; } = position;

    public IReadOnlyList<AccountHistory> Accounts { get; } = accounts;

    public WindowReport Report(Window window, bool byOwner = true) => Reports.Compute(Accounts, window, byOwner);

    /// <summary>Several windows at once; each is an independent pass over the accounts.</summary>
    public IReadOnlyList<WindowReport> Report(IReadOnlyList<Window> windows, bool byOwner = true)
    {
        var reports = new WindowReport[windows.Count];
        Parallel.For(0, windows.Count, i => reports[i] = Report(windows[i], byOwner));
        return reports;
    }

    /// <summary>
    /// Replays the log up to <paramref name="asOfPosition"/> (default: the head). A reversal recorded after that
    /// position does not apply, so the same position always gives the same numbers.
    /// </summary>
    public static async Task<LedgerSnapshot> LoadAsync(IEventStore store, long? asOfPosition = null, CancellationToken ct = default)
    {
        var head = (await store.GetHeadAsync(ct)).Position;
        if (asOfPosition is { } p && (p < 0 || p > head))
            throw new LedgerUsageException($"as-of position {p} is outside the ledger (0..{head})");
        long position = asOfPosition ?? head;
        var events = new List<LedgerEvent>();
        await foreach (var e in store.ReadEventsAsync(1, position, ct)) events.Add(e.Event);
        return new LedgerSnapshot(position, Fold(events));
    }

    /// <summary>Folds events given in position order into per-account histories, reversals applied.</summary>
    public static IReadOnlyList<AccountHistory> Fold(IReadOnlyList<LedgerEvent> eventsInPositionOrder)
    {
        var reversed = eventsInPositionOrder.OfType<EventReversed>().Select(r => r.TargetEventId).ToHashSet(StringComparer.Ordinal);
        var byAccount = new Dictionary<string, List<LedgerEvent>>(StringComparer.Ordinal);
        foreach (var e in eventsInPositionOrder)
        {
            if (e is EventReversed || reversed.Contains(e.EventId)) continue;
            if (!byAccount.TryGetValue(e.AccountId, out var list)) byAccount[e.AccountId] = list = [];
            list.Add(e);
        }
        // Accounts are independent: fold them on every core.
        var accounts = byAccount.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
        var histories = new AccountHistory[accounts.Length];
        Parallel.For(0, accounts.Length, i => histories[i] = AccountHistory.Build(accounts[i].Key, accounts[i].Value));
        return histories;
    }
}
