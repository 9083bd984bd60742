using RevenueLedger.Domain;
using RevenueLedger.EventStore;

namespace RevenueLedger.Application;

/// <summary>Deciding a chunk of submissions against the cached states, and storing what was accepted.</summary>
public sealed partial class Ledger
{
    /// <summary>A batch decided but not yet stored.</summary>
    private sealed record Decided(
        SubmissionResult[] Results, int?[] Failed, List<(int Item, EventData Event)> AppendOrder,
        Dictionary<string, long> InitialVersions, Dictionary<string, (int Item, LedgerEvent Event)> Pending,
        List<(int Item, int Of)> DuplicateOfPending, Dictionary<string, AccountState> Working)
    {
        /// <summary>The log position these decisions reflect (−1: not yet known, while the previous chunk is being stored).</summary>
        public long AtHead { get; set; } = -1;

        /// <summary>The chunk decided just before this one, still being stored when this one was decided; dropped once committed.</summary>
        public Decided? Previous { get; set; }

        /// <summary>Every eventId was looked up before deciding, so a stored one found by the store is a plain duplicate.</summary>
        public bool LookedUpAll { get; init; }

        /// <summary>The cache's invalidation count when these decisions were made.</summary>
        public long Epoch { get; init; }
    }

    /// <summary>
    /// Decides items against the cached account states, in consecutive atomic batches of <paramref name="batchSizes"/>
    /// (null: every item on its own). A batch with a refusal keeps its items' outcomes but is taken back whole, so the
    /// batches after it are decided as if it had not been submitted. Without <paramref name="lookUpAll"/>, only eventIds
    /// of these items and of the chunk in flight are known: each refusal is then checked against the store (a
    /// resubmitted event is a duplicate, not a rejection), and acceptances go to the store with
    /// <see cref="IEventStore.AppendNewAsync"/>, which fails if any of them was stored before, so the items are decided
    /// again with every id looked up. Looking up only the rare refusals saves a lookup per event on the common path.
    /// Null when a refusal found in the store belongs to a batch of several items: its batch's fate, and so the
    /// decisions after it, change, so the caller decides again with every id looked up.
    /// </summary>
    private async Task<Decided?> DecideAsync(IReadOnlyList<ParseResult> items, int[]? batchSizes, Decided? inFlight, bool lookUpAll, CancellationToken ct)
    {
        var events = items.Where(i => i.Event is not null).Select(i => i.Event!).ToList();
        var stored = lookUpAll
            ? await store.FindEventsAsync(events.Select(e => e.EventId).Distinct(StringComparer.Ordinal).ToList(), ct)
            : new Dictionary<string, RecordedEvent>();
        await LoadAccountsAsync(events.Select(e => e.AccountId), inFlight, ct);

        var run = new DecisionRun(items, batchSizes, inFlight, stored, _accounts);
        for (int batch = 0, start = 0; batch < run.Failed.Length; start += run.Size(batch), batch++) run.DecideBatch(batch, start);
        if (!lookUpAll && !await SettleRejectionsAsync(items, batchSizes, run.Results, run.Failed, ct)) return null;
        return new Decided(run.Results, run.Failed, run.AppendOrder, run.InitialVersions, run.Pending, run.DuplicateOfPending, run.Working)
        {
            Previous = inFlight,
            AtHead = inFlight is null ? _cacheHead : -1,
            LookedUpAll = lookUpAll,
            Epoch = _epoch,
        };
    }

    /// <summary>
    /// Decided without every id looked up: a rejection may really be a resubmission of a stored event, and duplicate
    /// or conflict take precedence. False when such an event is in a batch of several items: that batch's fate, and
    /// so every decision after it, changes.
    /// </summary>
    private async Task<bool> SettleRejectionsAsync(IReadOnlyList<ParseResult> items, int[]? batchSizes, SubmissionResult[] results, int?[] failed, CancellationToken ct)
    {
        var rejected = Enumerable.Range(0, items.Count).Where(i => results[i].Outcome == Outcome.Rejected).ToList();
        if (rejected.Count == 0) return true;
        var found = await store.FindEventsAsync(rejected.Select(i => items[i].Event!.EventId).Distinct(StringComparer.Ordinal).ToList(), ct);
        if (batchSizes is not null && batchSizes.Any(n => n > 1) && rejected.Any(i => found.ContainsKey(items[i].Event!.EventId)))
            return false;
        foreach (var i in rejected)
        {
            // Each item is its own batch here, so settling it changes nothing else.
            var e = items[i].Event!;
            if (!found.TryGetValue(e.EventId, out var s)) continue;
            results[i] = AccountDecider.Decide(new SubmitEvent(e, s.AsExisting()), AccountState.Initial(e.AccountId)) switch
            {
                Decision.AlreadyStored already => new SubmissionResult(Outcome.Duplicate, e.EventId, already.Position, null),
                Decision.Refuse conflict => new SubmissionResult(conflict.Error.Outcome, e.EventId, null, conflict.Error),
                _ => results[i],
            };
            if (results[i].Outcome == Outcome.Duplicate) failed[batchSizes is null ? i : BatchOf(batchSizes, i)] = null;
        }
        return true;
    }

    /// <summary>
    /// One chunk's decisions as they are made, batch by batch: the working account states, the events to append in
    /// order, ids pending in this chunk, and what the current batch changed (so a refused batch is taken back whole).
    /// </summary>
    private sealed class DecisionRun(
        IReadOnlyList<ParseResult> items, int[]? batchSizes, Decided? inFlight, IReadOnlyDictionary<string, RecordedEvent> stored, AccountCache accounts)
    {
        // Sized once: a chunk of 32k events grew each of these through a dozen copies.
        public SubmissionResult[] Results { get; } = new SubmissionResult[items.Count];
        public Dictionary<string, long> InitialVersions { get; } = new(items.Count, StringComparer.Ordinal);
        public List<(int Item, EventData Event)> AppendOrder { get; } = new(items.Count);
        public Dictionary<string, (int Item, LedgerEvent Event)> Pending { get; } = new(items.Count, StringComparer.Ordinal);
        public List<(int Item, int Of)> DuplicateOfPending { get; } = [];
        public Dictionary<string, AccountState> Working { get; } = new(items.Count, StringComparer.Ordinal);
        public int?[] Failed { get; } = new int?[batchSizes?.Length ?? items.Count];

        private readonly List<(string Account, AccountState? Before, string EventId)> _undo = []; // what the current batch's acceptances changed

        public int Size(int batch) => batchSizes?[batch] ?? 1;

        public void DecideBatch(int batch, int start)
        {
            int end = start + Size(batch), appendMark = AppendOrder.Count, duplicateMark = DuplicateOfPending.Count;
            _undo.Clear();
            for (int i = start; i < end; i++)
            {
                if (items[i].Error is { } invalid)
                {
                    Results[i] = new SubmissionResult(Outcome.Invalid, null, null, invalid);
                    Failed[batch] ??= i;
                    continue;
                }
                if (!DecideItem(i, keepUndo: end - start > 1)) Failed[batch] ??= i;
            }
            if (Failed[batch] is not null) TakeBack(appendMark, duplicateMark);
        }

        /// <summary>Decides one valid item on top of the working state; false when it is refused.</summary>
        private bool DecideItem(int i, bool keepUndo)
        {
            var e = items[i].Event!;
            if (!Working.TryGetValue(e.AccountId, out var state))
            {
                state = accounts.Get(e.AccountId) ?? AccountState.Initial(e.AccountId);
                InitialVersions[e.AccountId] = state.Version;
            }
            switch (AccountDecider.Decide(new SubmitEvent(e, Existing(e)), state))
            {
                case Decision.Accept accept:
                    if (keepUndo) _undo.Add((e.AccountId, Working.GetValueOrDefault(e.AccountId), e.EventId));
                    Working[e.AccountId] = AccountDecider.Evolve(state, accept.Event);
                    Pending[e.EventId] = (i, e);
                    AppendOrder.Add((i, EventData.From(e, items[i].TraceContext))); // payload serialised here, off the append's critical path
                    Results[i] = new SubmissionResult(Outcome.Accepted, e.EventId, null, null);
                    return true;
                case Decision.AlreadyStored already:
                    if (Pending.TryGetValue(e.EventId, out var of)) DuplicateOfPending.Add((i, of.Item));
                    else if (already.Position <= 0) DuplicateOfPending.Add((i, -1 - inFlight!.Pending[e.EventId].Item));
                    Results[i] = new SubmissionResult(Outcome.Duplicate, e.EventId, already.Position <= 0 ? null : already.Position, null);
                    Working[e.AccountId] = state;
                    return true;
                case Decision.Refuse refuse:
                    Results[i] = new SubmissionResult(refuse.Error.Outcome, e.EventId, null, refuse.Error);
                    Working[e.AccountId] = state;
                    return false;
                default:
                    throw new InvalidOperationException($"unknown decision for event {e.EventId}");
            }
        }

        /// <summary>
        /// The event already under this id: one pending in this chunk or the chunk still being stored (compared as
        /// canonical JSON, computed only then), else one found in the store.
        /// </summary>
        private ExistingEvent? Existing(LedgerEvent e) =>
            Pending.TryGetValue(e.EventId, out var p) ? new ExistingEvent(0, p.Event.StoredType, WireFormat.ToCanonicalJson(p.Event))
            : inFlight is not null && inFlight.Pending.TryGetValue(e.EventId, out var f) ? new ExistingEvent(0, f.Event.StoredType, WireFormat.ToCanonicalJson(f.Event))
            : stored.TryGetValue(e.EventId, out var s) ? s.AsExisting() : null;

        /// <summary>A refused batch is taken back whole: later batches are decided without it.</summary>
        private void TakeBack(int appendMark, int duplicateMark)
        {
            for (int u = _undo.Count - 1; u >= 0; u--)
            {
                var (account, before, eventId) = _undo[u];
                if (before is null) Working.Remove(account); else Working[account] = before;
                Pending.Remove(eventId);
            }
            AppendOrder.RemoveRange(appendMark, AppendOrder.Count - appendMark);
            DuplicateOfPending.RemoveRange(duplicateMark, DuplicateOfPending.Count - duplicateMark);
        }
    }

    private static int BatchOf(int[] batchSizes, int item)
    {
        int batch = 0;
        for (int start = 0; item >= start + batchSizes[batch]; start += batchSizes[batch++]) { }
        return batch;
    }

    private async Task<(SubmissionResult[] Results, AppendResult? Appended)> CommitAsync(Decided d, CancellationToken ct)
    {
        var results = d.Results;
        AppendResult? appended = null;
        if (d.AppendOrder.Count > 0)
        {
            // One append entry per run of consecutive events of an account: positions follow submission order, so
            // the store's answers come back in the order of AppendOrder.
            var order = d.AppendOrder;
            var appends = new List<StreamAppend>(order.Count);
            var nextVersion = new Dictionary<string, long>(d.InitialVersions, StringComparer.Ordinal);
            for (int start = 0, end = 1; start < order.Count; start = end++)
            {
                var accountId = order[start].Event.Event.AccountId;
                while (end < order.Count && order[end].Event.Event.AccountId == accountId) end++;
                var run = new EventData[end - start];
                for (int i = 0; i < run.Length; i++) run[i] = order[start + i].Event;
                appends.Add(new StreamAppend(accountId, nextVersion[accountId], run));
                nextVersion[accountId] += run.Length;
            }
            appended = d.LookedUpAll ? await store.AppendAsync(appends, ct) : await store.AppendNewAsync(appends, ct);
            for (int k = 0; k < order.Count; k++)
            {
                // A duplicate found by the store itself (a concurrent writer stored the same event) is still a duplicate.
                int item = order[k].Item;
                var outcome = appended.Duplicates[k] ? Outcome.Duplicate : Outcome.Accepted;
                results[item] = results[item] with { Outcome = outcome, Position = appended.Positions[k] };
            }
        }
        // Duplicates of events accepted in this batch (Of ≥ 0) or in the chunk stored just before (Of < 0).
        foreach (var (item, of) in d.DuplicateOfPending)
            results[item] = results[item] with { Position = of >= 0 ? results[of].Position : d.Previous!.Results[-1 - of].Position };
        d.Previous = null;
        return (results, appended);
    }
}
