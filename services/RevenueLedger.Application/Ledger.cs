using System.Text.Json;
using RevenueLedger.Domain;
using RevenueLedger.EventStore;

namespace RevenueLedger.Application;

/// <summary>One submission's outcome (spec §2). Position is the stored position for accepted and duplicate.</summary>
public sealed record SubmissionResult(Outcome Outcome, string? EventId, long? Position, LedgerError? Error);

public sealed record BatchResult(bool Stored, IReadOnlyList<SubmissionResult> Items, int? FailedIndex)
{
    public SubmissionResult? Failure => FailedIndex is { } i ? Items[i] : null;
}

/// <summary>
/// The write side: parses, decides against each account's state and appends with optimistic concurrency, so
/// several writers (threads or processes) never store an event that was decided against a stale account.
/// </summary>
public sealed class Ledger(IEventStore store, Func<string>? newEventId = null, int maxCachedAccounts = 50_000)
{
    private const int MaxAttempts = 20;
    private readonly Func<string> _newEventId = newEventId ?? EventIds.New;
    /// <summary>Beyond this many accounts the known-account set is dropped and unknown accounts are looked up.</summary>
    public const int MaxKnownAccounts = 10_000_000;

    private readonly AccountCache _accounts = new(maxCachedAccounts);
    private long _cacheHead = -1; // the log position the cached account states reflect
    // Every account with events in the log up to _knownHead, as a 64-bit hash of its id: an account whose hash is not
    // in it has none, so deciding its events needs no lookup (a batch of new accounts cost a query per batch). A hash
    // shared by two ids only costs a lookup that finds nothing; 11–23 bytes an account instead of a string. Kept across
    // invalidations: the log only grows.
    private KnownAccounts? _known;
    private long _knownHead = -1;
    private bool _tooManyAccounts;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public IEventStore Store => store;

    public ParseResult Parse(string json) => WireFormat.Parse(json, _newEventId);

    public ParseResult Parse(JsonElement json) => WireFormat.Parse(json, _newEventId);

    public ParseResult Parse(ReadOnlySpan<byte> utf8Json) => WireFormat.Parse(utf8Json, _newEventId);

    /// <summary>Every item on its own (as `ledger import` submits lines): one refusal does not stop the others.</summary>
    public async Task<IReadOnlyList<SubmissionResult>> SubmitEachAsync(IReadOnlyList<ParseResult> items, CancellationToken ct = default) =>
        (await RunAsync(items, batchSizes: null, ct)).Results;

    /// <summary>
    /// All or nothing: stored only when every item is accepted or a duplicate. When not stored, the items still say
    /// what each would have been and <see cref="BatchResult.Failure"/> names the first refusal.
    /// </summary>
    public async Task<BatchResult> SubmitBatchAsync(IReadOnlyList<ParseResult> items, CancellationToken ct = default) =>
        (await SubmitBatchesAsync([items], ct))[0];

    /// <summary>
    /// Several atomic batches in one append (a group commit): each is all or nothing on its own, decided in order on
    /// top of the batches before it that were stored, so one refused batch leaves the others as they would be alone.
    /// </summary>
    public async Task<IReadOnlyList<BatchResult>> SubmitBatchesAsync(IReadOnlyList<IReadOnlyList<ParseResult>> batches, CancellationToken ct = default) =>
        await await StartBatchesAsync(batches, ct);

    /// <summary>
    /// <see cref="SubmitBatchesAsync"/> in two steps, for a writer that keeps several groups going: the returned task
    /// completes once the group is decided, on top of the group still being appended if there is one, and holds the
    /// task of its own append. Deciding the next group while this one is written keeps both cores busy; the appends
    /// still happen one after another, in the order the groups were decided. Should the group before it fail to be
    /// stored as decided, this one is decided again on fresh state before it is appended.
    /// </summary>
    public async Task<Task<IReadOnlyList<BatchResult>>> StartBatchesAsync(IReadOnlyList<IReadOnlyList<ParseResult>> batches, CancellationToken ct = default)
    {
        var sizes = new int[batches.Count];
        var items = new List<ParseResult>(batches.Sum(b => b.Count));
        for (int b = 0; b < batches.Count; b++)
        {
            sizes[b] = batches[b].Count;
            items.AddRange(batches[b]);
        }
        var appended = await StartAsync(items, sizes, ct);
        return Results(appended);

        async Task<IReadOnlyList<BatchResult>> Results(Task<Outcomes> appending)
        {
            var outcome = await appending;
            var results = new BatchResult[batches.Count];
            for (int b = 0, start = 0; b < batches.Count; start += sizes[b++])
            {
                int? failed = outcome.Failed[b] is { } f ? f - start : null;
                results[b] = new BatchResult(failed is null, new ArraySegment<SubmissionResult>(outcome.Results, start, sizes[b]), failed);
            }
            return results;
        }
    }

    /// <summary>Per item, and per atomic batch the first item that was refused (an index into all items).</summary>
    private sealed record Outcomes(SubmissionResult[] Results, int?[] Failed);

    /// <summary>
    /// A group decided and being appended, whose account states the cache already holds (so the next group can be
    /// decided on top of it). <see cref="Settled"/> completes once its append is over and the cache knows: with the
    /// log position the cache then reflects, or −1 when the group was not stored as decided (a group decided on top
    /// of it is then decided again).
    /// </summary>
    private sealed record InFlight(Decided Decided, Task<long> Settled, InFlight? Before);

    private InFlight? _inFlight; // the last group started and not yet settled; guarded by _gate

    /// <summary>Takes the gate once no group is being appended (the paths that decide and append in one go).</summary>
    private async Task AcquireIdleAsync(CancellationToken ct)
    {
        while (true)
        {
            await _gate.WaitAsync(ct);
            if (_inFlight is not { } pending) return;
            _gate.Release();
            await pending.Settled.WaitAsync(ct);
        }
    }

    private async Task<Outcomes> RunAsync(IReadOnlyList<ParseResult> items, int[]? batchSizes, CancellationToken ct)
    {
        await AcquireIdleAsync(ct);
        try
        {
            return await DecideAndCommitAsync(items, batchSizes, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Decides a group (on top of the one in flight, if any) and starts its append; returns the append's task.</summary>
    private async Task<Task<Outcomes>> StartAsync(IReadOnlyList<ParseResult> items, int[] batchSizes, CancellationToken ct)
    {
        // At most two groups in flight: a decision knows the pending events of the one group before it only.
        while (true)
        {
            await _gate.WaitAsync(ct);
            if (_inFlight?.Before is not { Settled.IsCompleted: false } older) break;
            _gate.Release();
            await older.Settled.WaitAsync(ct);
        }
        InFlight? prior, mine;
        var settled = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            prior = _inFlight;
            if (prior is null) await SyncCacheAsync(ct);
            var decided = await DecideAsync(items, batchSizes, prior?.Decided, lookUpAll: false, ct);
            if (decided is null)
            {
                // A stored event resubmitted in a batch of several: the group is decided again, with every eventId
                // looked up, once nothing is in flight.
                _gate.Release();
                return RunAsync(items, batchSizes, ct);
            }
            // The next group builds on these states before they are stored; a failed append takes them back (Invalidate).
            foreach (var (account, state) in decided.Working) _accounts.Set(account, state);
            _inFlight = mine = new InFlight(decided, settled.Task, prior);
        }
        catch
        {
            Invalidate();
            _gate.Release();
            throw;
        }
        _gate.Release();
        return AppendAfterAsync(prior, mine, items, batchSizes, settled, ct);
    }

    /// <summary>Appends a started group once the group before it settled; decides it again if that one was not stored as decided.</summary>
    private async Task<Outcomes> AppendAfterAsync(InFlight? prior, InFlight mine, IReadOnlyList<ParseResult> items, int[] batchSizes, TaskCompletionSource<long> settled, CancellationToken ct)
    {
        var decided = mine.Decided;
        try
        {
            long priorHead = prior is null ? decided.AtHead : await prior.Settled;
            if (priorHead >= 0)
            {
                decided.AtHead = priorHead;
                try
                {
                    var (results, appended) = await CommitAsync(decided, ct);
                    long head;
                    await _gate.WaitAsync(CancellationToken.None);
                    try
                    {
                        head = AfterCommit(decided, appended) ? _cacheHead : -1;
                        if (_inFlight == mine) _inFlight = null;
                    }
                    finally
                    {
                        _gate.Release();
                    }
                    settled.SetResult(head);
                    return new Outcomes(results, decided.Failed);
                }
                catch (Exception ex) when (ex is WrongExpectedVersionException or EventIdConflictException)
                {
                    // Another writer got there first: decided again below.
                }
            }
            // Decided on states that were not stored as assumed: decided again on fresh ones, holding the gate so that
            // nothing is decided on top of this group meanwhile.
            await _gate.WaitAsync(CancellationToken.None);
            try
            {
                Invalidate();
                var outcome = await DecideAndCommitAsync(items, batchSizes, ct);
                if (_inFlight == mine) _inFlight = null;
                return outcome;
            }
            finally
            {
                _gate.Release();
                settled.TrySetResult(-1); // a group decided on top of the first decision is decided again too
            }
        }
        catch
        {
            await _gate.WaitAsync(CancellationToken.None);
            Invalidate();
            if (_inFlight == mine) _inFlight = null;
            _gate.Release();
            settled.TrySetResult(-1);
            throw;
        }
    }

    private async Task<Outcomes> DecideAndCommitAsync(IReadOnlyList<ParseResult> items, int[]? batchSizes, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await SyncCacheAsync(ct);
                // First try without looking every eventId up; if the store finds one already there, try again looking all up.
                var decided = await DecideAsync(items, batchSizes, inFlight: null, lookUpAll: attempt > 1, ct)
                    ?? await DecideAsync(items, batchSizes, inFlight: null, lookUpAll: true, ct)
                    ?? throw new InvalidOperationException("a decision that looked every eventId up asked to look them up");
                var (results, appended) = await CommitAsync(decided, ct);
                if (AfterCommit(decided, appended))
                    foreach (var (account, state) in decided.Working) _accounts.Set(account, state);
                return new Outcomes(results, decided.Failed);
            }
            catch (Exception ex) when (ex is WrongExpectedVersionException or EventIdConflictException && attempt < MaxAttempts)
            {
                // Another writer got there first: decide again on fresh state.
                Invalidate();
            }
            catch
            {
                Invalidate();
                throw;
            }
        }
    }

    /// <summary>
    /// Submits chunks each item on its own, like <see cref="SubmitEachAsync"/>, but decides chunk N+1 while chunk N
    /// is being appended, so the store's writing and the rules' checking use both cores. Results come back per chunk,
    /// in order. Chunk N+1 is only appended if the log holds exactly what its decisions assumed (nothing written by
    /// anyone else since); otherwise it is decided again on fresh state.
    /// </summary>
    public async Task SubmitChunksAsync(IAsyncEnumerable<IReadOnlyList<ParseResult>> chunks, Action<IReadOnlyList<SubmissionResult>> onResults, CancellationToken ct = default)
    {
        await AcquireIdleAsync(ct);
        (IReadOnlyList<ParseResult> Items, Decided Decided, Task<(SubmissionResult[], AppendResult?)> Commit)? inFlight = null;
        try
        {
            await SyncCacheAsync(ct);
            await foreach (var items in chunks.WithCancellation(ct))
            {
                // Items on their own never ask for a second decision (a stored resubmission is settled in place).
                var next = (await DecideAsync(items, batchSizes: null, inFlight?.Decided, lookUpAll: false, ct))!;
                // The next chunk's decisions build on this one's account states before they are stored.
                foreach (var (account, state) in next.Working) _accounts.Set(account, state);
                bool valid = true;
                if (inFlight is { } previous)
                {
                    inFlight = null;
                    valid = await FinishAsync(previous.Items, previous.Decided, previous.Commit, onResults, ct)
                        && (await store.GetHeadAsync(ct)).Position == _cacheHead;
                    next.AtHead = _cacheHead;
                }
                if (!valid)
                {
                    Invalidate();
                    onResults((await DecideAndCommitAsync(items, batchSizes: null, ct)).Results);
                    continue;
                }
                var decided = next;
                inFlight = (items, decided, Task.Run(() => CommitAsync(decided, ct), ct));
            }
            if (inFlight is { } last)
            {
                inFlight = null;
                await FinishAsync(last.Items, last.Decided, last.Commit, onResults, ct);
            }
        }
        catch (Exception ex)
        {
            Invalidate();
            if (inFlight is { } pending)
            {
                // That append may have happened: wait for it and report it, so no stored line goes unreported.
                try
                {
                    onResults((await pending.Commit).Item1);
                }
                catch (Exception commitFailure)
                {
                    throw new AggregateException(ex, commitFailure);
                }
            }
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Waits for a chunk's append. False when the cache can no longer be trusted (it lost a race, or another writer appended in between).</summary>
    private async Task<bool> FinishAsync(IReadOnlyList<ParseResult> items, Decided decided, Task<(SubmissionResult[], AppendResult?)> commit, Action<IReadOnlyList<SubmissionResult>> onResults, CancellationToken ct)
    {
        try
        {
            var (results, appended) = await commit;
            onResults(results);
            return AfterCommit(decided, appended);
        }
        catch (Exception ex) when (ex is WrongExpectedVersionException or EventIdConflictException)
        {
            Invalidate();
            onResults((await DecideAndCommitAsync(items, batchSizes: null, ct)).Results);
            return false;
        }
    }

    /// <summary>
    /// Learns now what deciding needs from the log — which accounts exist — rather than on the first submission, which
    /// would otherwise wait for it (seconds of reading at millions of accounts).
    /// </summary>
    public async Task WarmUpAsync(CancellationToken ct = default)
    {
        await AcquireIdleAsync(ct);
        try
        {
            await SyncCacheAsync(ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Brings the cache to the log's head: when the log moved without us (another writer), the accounts it wrote since
    /// are forgotten (their states changed) and learnt as known; a cache that no longer says which position it
    /// reflects is dropped whole.
    /// </summary>
    private async Task SyncCacheAsync(CancellationToken ct)
    {
        var head = (await store.GetHeadAsync(ct)).Position;
        if (_tooManyAccounts)
        {
            if (head != _cacheHead) _accounts.Clear();
            _cacheHead = head;
            return;
        }
        if (head == _cacheHead && head == _knownHead) return;
        if (_known is null || head < _knownHead)
        {
            _accounts.Clear();
            _known = new KnownAccounts();
            if (head > 0) foreach (var account in await store.ReadAccountIdsAsync(0, head, ct)) _known.Add(KnownHash(account));
        }
        else
        {
            var written = head > _knownHead ? await store.ReadAccountIdsAsync(_knownHead, head, ct) : [];
            if (_cacheHead == _knownHead)
                foreach (var account in written) _accounts.Remove(account);
            else
                _accounts.Clear();
            foreach (var account in written) _known.Add(KnownHash(account));
        }
        (_cacheHead, _knownHead) = (head, head);
        if (_known.Count > MaxKnownAccounts) (_known, _knownHead, _tooManyAccounts) = (null, -1, true);
    }

    /// <summary>
    /// 64 bits, so that ids rarely share one: the runtime's string hash (keyed per process, so ids chosen by a client
    /// cannot be made to pile up in one bucket of the set) beside FNV-1a over the id's UTF-16 code units.
    /// </summary>
    private static ulong KnownHash(string accountId)
    {
        uint fnv = 2166136261;
        foreach (char c in accountId) fnv = (fnv ^ c) * 16777619;
        return ((ulong)(uint)accountId.GetHashCode() << 32) | fnv;
    }

    private void Invalidate()
    {
        _accounts.Clear();
        _cacheHead = -1;
        _epoch++;
    }

    // Counts invalidations: a decision made before one must not make the cache valid again when its append settles
    // (a group decided meanwhile may have loaded the states that append was about to change).
    private long _epoch;

    /// <summary>
    /// After an append: the cache stays valid only if our events came right after the position the decisions
    /// reflected (no other writer in between); then it reflects the new head.
    /// </summary>
    private bool AfterCommit(Decided decided, AppendResult? appended)
    {
        if (decided.Epoch != _epoch)
        {
            Invalidate();
            return false;
        }
        if (appended is null) return decided.AtHead == _cacheHead;
        // Stored accounts have events, whatever else happened around the append.
        if (_known is not null) foreach (var (_, e) in decided.AppendOrder) _known.Add(KnownHash(e.Event.AccountId));
        long firstNew = long.MaxValue;
        for (int i = 0; i < appended.Positions.Count; i++)
            if (!appended.Duplicates[i]) firstNew = Math.Min(firstNew, appended.Positions[i]);
        if (decided.AtHead >= 0 && firstNew == decided.AtHead + 1)
        {
            if (_knownHead == decided.AtHead) _knownHead = appended.HeadPosition;
            _cacheHead = appended.HeadPosition;
            return true;
        }
        Invalidate();
        return false;
    }

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

        // Sized once: a chunk of 32k events grew each of these through a dozen copies.
        var results = new SubmissionResult[items.Count];
        var initialVersions = new Dictionary<string, long>(items.Count, StringComparer.Ordinal);
        var appendOrder = new List<(int Item, EventData Event)>(items.Count);
        var pending = new Dictionary<string, (int Item, LedgerEvent Event)>(items.Count, StringComparer.Ordinal);
        var duplicateOfPending = new List<(int Item, int Of)>();
        var working = new Dictionary<string, AccountState>(items.Count, StringComparer.Ordinal);
        var failed = new int?[batchSizes?.Length ?? items.Count];
        var undo = new List<(string Account, AccountState? Before, string EventId)>(); // what the current batch's acceptances changed

        for (int batch = 0, start = 0; batch < failed.Length; start += Size(batch), batch++)
        {
            int end = start + Size(batch), appendMark = appendOrder.Count, duplicateMark = duplicateOfPending.Count;
            undo.Clear();
            for (int i = start; i < end; i++)
            {
                if (items[i].Error is { } invalid)
                {
                    results[i] = new SubmissionResult(Outcome.Invalid, null, null, invalid);
                    failed[batch] ??= i;
                    continue;
                }
                var e = items[i].Event!;
                if (!working.TryGetValue(e.AccountId, out var state))
                {
                    state = _accounts.Get(e.AccountId) ?? AccountState.Initial(e.AccountId);
                    initialVersions[e.AccountId] = state.Version;
                }
                // An id repeated among these items (or in the chunk still being stored) is compared with that pending
                // event; canonical JSON only when that happens.
                ExistingEvent? existing =
                    pending.TryGetValue(e.EventId, out var p) ? new ExistingEvent(0, p.Event.StoredType, WireFormat.ToCanonicalJson(p.Event))
                    : inFlight is not null && inFlight.Pending.TryGetValue(e.EventId, out var f) ? new ExistingEvent(0, f.Event.StoredType, WireFormat.ToCanonicalJson(f.Event))
                    : stored.TryGetValue(e.EventId, out var s) ? s.AsExisting() : null;
                switch (AccountDecider.Decide(new SubmitEvent(e, existing), state))
                {
                    case Decision.Accept accept:
                        if (end - start > 1) undo.Add((e.AccountId, working.GetValueOrDefault(e.AccountId), e.EventId));
                        working[e.AccountId] = AccountDecider.Evolve(state, accept.Event);
                        pending[e.EventId] = (i, e);
                        appendOrder.Add((i, EventData.From(e, items[i].TraceContext))); // payload serialised here, off the append's critical path
                        results[i] = new SubmissionResult(Outcome.Accepted, e.EventId, null, null);
                        break;
                    case Decision.AlreadyStored already:
                        if (pending.TryGetValue(e.EventId, out var of)) duplicateOfPending.Add((i, of.Item));
                        else if (already.Position <= 0) duplicateOfPending.Add((i, -1 - inFlight!.Pending[e.EventId].Item));
                        results[i] = new SubmissionResult(Outcome.Duplicate, e.EventId, already.Position <= 0 ? null : already.Position, null);
                        working[e.AccountId] = state;
                        break;
                    case Decision.Refuse refuse:
                        results[i] = new SubmissionResult(refuse.Error.Outcome, e.EventId, null, refuse.Error);
                        working[e.AccountId] = state;
                        failed[batch] ??= i;
                        break;
                }
            }
            if (failed[batch] is null) continue;
            // Taken back whole: later batches are decided without it.
            for (int u = undo.Count - 1; u >= 0; u--)
            {
                var (account, before, eventId) = undo[u];
                if (before is null) working.Remove(account); else working[account] = before;
                pending.Remove(eventId);
            }
            appendOrder.RemoveRange(appendMark, appendOrder.Count - appendMark);
            duplicateOfPending.RemoveRange(duplicateMark, duplicateOfPending.Count - duplicateMark);
        }

        if (!lookUpAll)
        {
            // A rejection may really be a resubmission of a stored event: duplicate or conflict take precedence.
            var rejected = Enumerable.Range(0, items.Count).Where(i => results[i].Outcome == Outcome.Rejected).ToList();
            var found = rejected.Count == 0 ? new Dictionary<string, RecordedEvent>()
                : await store.FindEventsAsync(rejected.Select(i => items[i].Event!.EventId).Distinct(StringComparer.Ordinal).ToList(), ct);
            if (batchSizes is not null && batchSizes.Any(n => n > 1) && rejected.Any(i => found.ContainsKey(items[i].Event!.EventId)))
                return null;
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
        }
        return new Decided(results, failed, appendOrder, initialVersions, pending, duplicateOfPending, working)
        {
            Previous = inFlight,
            AtHead = inFlight is null ? _cacheHead : -1,
            LookedUpAll = lookUpAll,
            Epoch = _epoch,
        };

        int Size(int batch) => batchSizes?[batch] ?? 1;
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

    private async Task LoadAccountsAsync(IEnumerable<string> accountIds, Decided? inFlight, CancellationToken ct)
    {
        var ids = accountIds.Distinct(StringComparer.Ordinal).ToList();
        if (_accounts.Count + ids.Count > maxCachedAccounts)
        {
            // Evict what was not used lately, but never what the chunk still being stored decided: that is nowhere else yet.
            _accounts.MakeRoom(ids.Count);
            if (inFlight is not null) foreach (var (account, state) in inFlight.Working) _accounts.Set(account, state);
        }
        var missing = ids.Where(a => !_accounts.Contains(a)).ToList();
        if (missing.Count == 0) return;
        if (_known is not null)
        {
            // Not known: the account has no events yet (an append racing another writer's first event for it fails
            // its expected version, so this never hides their events).
            foreach (var id in missing)
                if (!_known.Contains(KnownHash(id))) _accounts.Set(id, AccountState.Initial(id));
            missing.RemoveAll(_accounts.Contains);
            if (missing.Count == 0) return;
        }
        var streams = await store.ReadStreamsAsync(missing, ct);
        foreach (var id in missing)
            _accounts.Set(id, streams.TryGetValue(id, out var events)
                ? AccountDecider.Fold(id, events.Select(e => e.Event))
                : AccountState.Initial(id));
    }
}
