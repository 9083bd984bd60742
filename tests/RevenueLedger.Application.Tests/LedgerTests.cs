using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.EventStore;
using RevenueLedger.Sqlite;
using RevenueLedger.Tests;

namespace RevenueLedger.Application.Tests;

/// <summary>The write side over a real store: submission order, atomic batches, concurrent writers.</summary>
public sealed class LedgerTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string DbPath => Path.Combine(_dir.Path, "ledger.db");

    private static string Started(string id, string account, string contract = "c1", string date = "2024-01-01", string mrr = "100") =>
        $$"""{"type":"ContractStarted","eventId":"{{id}}","accountId":"{{account}}","contractId":"{{contract}}","effectiveDate":"{{date}}","mrr":"{{mrr}}","currency":"USD"}""";

    private static string Expanded(string id, string account, string amount = "10", string date = "2024-02-01") =>
        $$"""{"type":"ContractExpanded","eventId":"{{id}}","accountId":"{{account}}","contractId":"c1","effectiveDate":"{{date}}","amount":"{{amount}}","currency":"USD"}""";

    private static string Contracted(string id, string account, string amount) =>
        $$"""{"type":"ContractContracted","eventId":"{{id}}","accountId":"{{account}}","contractId":"c1","effectiveDate":"2024-03-01","amount":"{{amount}}","currency":"USD"}""";

    private static List<ParseResult> Parse(Ledger ledger, params string[] lines) => lines.Select(ledger.Parse).ToList();

    [Fact]
    public async Task Positions_follow_submission_order_across_accounts()
    {
        await using var store = await SqliteEventStore.OpenAsync(DbPath);
        var ledger = new Ledger(store);
        var results = await ledger.SubmitEachAsync(Parse(ledger, Started("a1", "a"), Started("b1", "b"), Expanded("a2", "a"), Expanded("b2", "b")));
        Assert.Equal([1L, 2L, 3L, 4L], results.Select(r => r.Position!.Value));
        var log = new List<string>();
        await foreach (var e in store.ReadAllAsync()) log.Add(e.EventId);
        Assert.Equal(["a1", "b1", "a2", "b2"], log);
    }

    [Fact]
    public async Task A_batch_with_one_refused_item_stores_nothing_and_names_the_item()
    {
        await using var store = await SqliteEventStore.OpenAsync(DbPath);
        var ledger = new Ledger(store);
        var batch = await ledger.SubmitBatchAsync(Parse(ledger, Started("a1", "a"), Expanded("a2", "a"), Contracted("a3", "a", "500")));
        Assert.False(batch.Stored);
        Assert.Equal(2, batch.FailedIndex);
        Assert.Equal(ErrorCodes.ContractionExceedsMrr, batch.Failure!.Error!.Code);
        Assert.Equal(0, (await store.GetHeadAsync()).Position);

        var ok = await ledger.SubmitBatchAsync(Parse(ledger, Started("a1", "a"), Expanded("a2", "a"), Contracted("a3", "a", "50")));
        Assert.True(ok.Stored);
        Assert.Equal([1L, 2L, 3L], ok.Items.Select(i => i.Position!.Value));
    }

    [Fact]
    public async Task Batches_committed_together_are_each_all_or_nothing_and_a_refused_one_counts_for_nothing_after_it()
    {
        await using var store = await SqliteEventStore.OpenAsync(DbPath);
        var ledger = new Ledger(store);
        var results = await ledger.SubmitBatchesAsync([
            Parse(ledger, Started("a1", "a")),
            // Refused by its contraction: its +10 must not reach the batches after it.
            Parse(ledger, Expanded("a2", "a"), Contracted("a3", "a", "500")),
            // 105 > 100 only once the refused expansion is taken back.
            Parse(ledger, Contracted("a4", "a", "105")),
            // a2 again: new, since the batch that carried it was refused.
            Parse(ledger, Expanded("a2", "a", "20"), Started("b1", "b")),
        ]);
        Assert.Equal([true, false, false, true], results.Select(r => r.Stored));
        Assert.Equal(1, results[1].FailedIndex);
        Assert.Equal(ErrorCodes.ContractionExceedsMrr, results[1].Failure!.Error!.Code);
        Assert.Equal(0, results[2].FailedIndex);
        Assert.Equal(ErrorCodes.ContractionExceedsMrr, results[2].Failure!.Error!.Code);
        Assert.Equal([1L], results[0].Items.Select(i => i.Position!.Value));
        Assert.Equal([2L, 3L], results[3].Items.Select(i => i.Position!.Value));
        var log = new List<string>();
        await foreach (var e in store.ReadAllAsync()) log.Add(e.EventId + ":" + e.Payload.Contains("\"20\"", StringComparison.Ordinal));
        Assert.Equal(["a1:False", "a2:True", "b1:False"], log);
    }

    [Fact]
    public async Task A_stored_event_resubmitted_in_a_batch_of_several_is_a_duplicate_not_a_refusal_of_the_batch()
    {
        await using var store = await SqliteEventStore.OpenAsync(DbPath);
        var first = new Ledger(store);
        await first.SubmitEachAsync(Parse(first, Started("a1", "a")));
        // A fresh ledger's rules alone refuse a second start of c1; the store says it is the stored event itself.
        var fresh = new Ledger(store);
        var batch = await fresh.SubmitBatchAsync(Parse(fresh, Started("a1", "a"), Expanded("a2", "a")));
        Assert.True(batch.Stored);
        Assert.Equal([Outcome.Duplicate, Outcome.Accepted], batch.Items.Select(i => i.Outcome));
        Assert.Equal([1L, 2L], batch.Items.Select(i => i.Position!.Value));
    }

    [Fact]
    public async Task An_account_another_writer_creates_after_this_ledger_learnt_the_accounts_is_not_taken_for_new()
    {
        // A ledger knows which accounts the log held when it last looked, and decides events of others as new
        // accounts without a lookup; an account another writer creates later must be learnt from the log.
        await using var s1 = await SqliteEventStore.OpenAsync(DbPath);
        await using var s2 = await SqliteEventStore.OpenAsync(DbPath);
        var (l1, l2) = (new Ledger(s1), new Ledger(s2));
        Assert.Equal(Outcome.Accepted, (await l1.SubmitEachAsync(Parse(l1, Started("a1", "a")))).Single().Outcome);
        Assert.Equal(Outcome.Accepted, (await l2.SubmitEachAsync(Parse(l2, Started("x1", "x", mrr: "50")))).Single().Outcome);
        var again = (await l1.SubmitEachAsync(Parse(l1, Started("x2", "x")))).Single();
        Assert.Equal(Outcome.Rejected, again.Outcome);
        Assert.Equal(ErrorCodes.ContractAlreadyStarted, again.Error!.Code);
        // And its state is the stored one: 50 − 60 < 0.
        Assert.Equal(ErrorCodes.ContractionExceedsMrr, (await l1.SubmitEachAsync(Parse(l1, Contracted("x3", "x", "60")))).Single().Error!.Code);
    }

    /// <summary>A store whose next append waits until released: an append still in flight, held there.</summary>
    private sealed class HeldStore(IEventStore inner) : IEventStore
    {
        private TaskCompletionSource? _hold, _held;
        private bool _failNextFind;

        public int AccountIdReads { get; private set; }

        public void FailNextFind() => _failNextFind = true;

        public void HoldNextAppend() => _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => (_held ?? _hold)?.TrySetResult();

        private async Task WaitAsync()
        {
            if (Interlocked.Exchange(ref _hold, null) is { } hold) await (_held = hold).Task;
        }

        public async Task<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> appends, CancellationToken ct = default) { await WaitAsync(); return await inner.AppendAsync(appends, ct); }
        public async Task<AppendResult> AppendNewAsync(IReadOnlyList<StreamAppend> appends, CancellationToken ct = default) { await WaitAsync(); return await inner.AppendNewAsync(appends, ct); }
        public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string accountId, CancellationToken ct = default) => inner.ReadStreamAsync(accountId, ct);
        public Task<IReadOnlyDictionary<string, IReadOnlyList<RecordedEvent>>> ReadStreamsAsync(IReadOnlyCollection<string> accountIds, CancellationToken ct = default) => inner.ReadStreamsAsync(accountIds, ct);
        public Task<IReadOnlyList<string>> ReadAccountIdsAsync(long afterPosition, long toPosition, CancellationToken ct = default)
        {
            AccountIdReads++;
            return inner.ReadAccountIdsAsync(afterPosition, toPosition, ct);
        }
        public IAsyncEnumerable<RecordedEvent> ReadAllAsync(long fromPosition = 1, long? toPosition = null, CancellationToken ct = default) => inner.ReadAllAsync(fromPosition, toPosition, ct);
        public IAsyncEnumerable<PositionedEvent> ReadEventsAsync(long fromPosition = 1, long? toPosition = null, CancellationToken ct = default) => inner.ReadEventsAsync(fromPosition, toPosition, ct);
        public IAsyncEnumerable<RawEventBatch> ReadRawAsync(long fromPosition = 1, long? toPosition = null, string? storedType = null, CancellationToken ct = default) => inner.ReadRawAsync(fromPosition, toPosition, storedType, ct);
        public Task<IReadOnlyDictionary<string, RecordedEvent>> FindEventsAsync(IReadOnlyCollection<string> eventIds, CancellationToken ct = default) =>
            Interlocked.Exchange(ref _failNextFind, false) ? throw new IOException("the store is away") : inner.FindEventsAsync(eventIds, ct);
        public Task<StoreHead> GetHeadAsync(CancellationToken ct = default) => inner.GetHeadAsync(ct);
        public Task<IReadOnlyList<(long Position, string TraceContext)>> TraceContextsAsync(long fromPosition, long toPosition, int limit, CancellationToken ct = default) => inner.TraceContextsAsync(fromPosition, toPosition, limit, ct);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    [Fact]
    public async Task A_warmed_up_ledger_knows_the_logs_accounts_before_its_first_submission()
    {
        await using (var s0 = await SqliteEventStore.OpenAsync(DbPath))
        {
            var l0 = new Ledger(s0);
            Assert.All(await l0.SubmitEachAsync(Parse(l0, Started("a1", "a"), Started("b1", "b"))), r => Assert.Equal(Outcome.Accepted, r.Outcome));
        }
        await using var held = new HeldStore(await SqliteEventStore.OpenAsync(DbPath));
        var ledger = new Ledger(held);

        await ledger.WarmUpAsync();
        Assert.Equal(1, held.AccountIdReads);

        // Nothing more is read for the first submissions: a stored account is known, a new one is taken for new.
        var again = (await ledger.SubmitEachAsync(Parse(ledger, Started("a2", "a")))).Single();
        Assert.Equal(ErrorCodes.ContractAlreadyStarted, again.Error!.Code);
        Assert.Equal(Outcome.Accepted, (await ledger.SubmitEachAsync(Parse(ledger, Started("n1", "n")))).Single().Outcome);
        Assert.Equal(1, held.AccountIdReads);
    }

    [Fact]
    public async Task A_group_decided_while_the_one_before_is_appended_builds_on_it()
    {
        await using var held = new HeldStore(await SqliteEventStore.OpenAsync(DbPath));
        var ledger = new Ledger(held);
        held.HoldNextAppend();
        var first = await ledger.StartBatchesAsync([Parse(ledger, Started("a1", "a"))]);
        // Decided while a1 is not stored yet: the expansion sees a1's contract (110), the resubmitted a1 is a duplicate
        // of it, and a contraction of 115 is refused because the refused batch's +10 never counted.
        var second = await ledger.StartBatchesAsync([
            Parse(ledger, Expanded("a2", "a"), Started("a1", "a")),
            Parse(ledger, Expanded("a3", "a", "10"), Contracted("a4", "a", "500")),
            Parse(ledger, Contracted("a5", "a", "115")),
        ]);
        Assert.False(first.IsCompleted);
        held.Release();
        var (r1, r2) = (await first, await second);
        Assert.Equal([1L], r1[0].Items.Select(i => i.Position!.Value));
        Assert.True(r2[0].Stored);
        Assert.Equal([(Outcome.Accepted, 2L), (Outcome.Duplicate, 1L)], r2[0].Items.Select(i => (i.Outcome, i.Position!.Value)));
        Assert.Equal([false, false], new[] { r2[1].Stored, r2[2].Stored });
        Assert.Equal(ErrorCodes.ContractionExceedsMrr, r2[2].Failure!.Error!.Code);
        Assert.Equal(2, (await held.GetHeadAsync()).Position);
    }

    [Fact]
    public async Task A_group_decided_on_one_that_was_not_stored_as_decided_is_decided_again()
    {
        await using var held = new HeldStore(await SqliteEventStore.OpenAsync(DbPath));
        await using var other = await SqliteEventStore.OpenAsync(DbPath);
        var ledger = new Ledger(held);
        var writer = new Ledger(other);
        held.HoldNextAppend();
        var first = await ledger.StartBatchesAsync([Parse(ledger, Started("a1", "a"))]);
        // Decided on top of a1 (still held), taking x for a new account.
        var second = await ledger.StartBatchesAsync([Parse(ledger, Expanded("a2", "a"), Started("x1", "x"))]);
        // Meanwhile another writer starts x's contract.
        Assert.Equal(Outcome.Accepted, (await writer.SubmitEachAsync(Parse(writer, Started("x0", "x", mrr: "70")))).Single().Outcome);
        held.Release();
        var (r1, r2) = (await first, await second);
        Assert.True(r1[0].Stored);
        // Decided again once the log turned out to hold another writer's event: x's contract is already started.
        Assert.False(r2[0].Stored);
        Assert.Equal(1, r2[0].FailedIndex);
        Assert.Equal(ErrorCodes.ContractAlreadyStarted, r2[0].Failure!.Error!.Code);
        var log = new List<string>();
        await foreach (var e in held.ReadAllAsync()) log.Add(e.EventId);
        Assert.Equal(["x0", "a1"], log);
        // And the ledger goes on from the true state: x's MRR is 70.
        Assert.Equal(ErrorCodes.ContractionExceedsMrr, (await ledger.SubmitEachAsync(Parse(ledger, Contracted("x2", "x", "80")))).Single().Error!.Code);
    }

    [Fact]
    public async Task A_decision_that_failed_while_a_group_was_appended_leaves_no_stale_state_behind()
    {
        await using var held = new HeldStore(await SqliteEventStore.OpenAsync(DbPath));
        var ledger = new Ledger(held);
        held.HoldNextAppend();
        var first = await ledger.StartBatchesAsync([Parse(ledger, Started("a1", "a"))]);
        // A group whose decision fails (its refusal is checked against the store, which is away) drops the cache...
        held.FailNextFind();
        await Assert.ThrowsAsync<IOException>(() => ledger.StartBatchesAsync([Parse(ledger, Contracted("q1", "q", "5"))]));
        // ...so the next group, decided on top of a1, no longer sees a1's account and refuses its expansion.
        var second = await ledger.StartBatchesAsync([Parse(ledger, Expanded("a2", "a"))]);
        held.Release();
        Assert.True((await first)[0].Stored);
        // Once a1 is stored, that decision is made again on the stored state.
        var r2 = (await second)[0];
        Assert.True(r2.Stored, r2.Failure?.Error?.Message);
        Assert.Equal([2L], r2.Items.Select(i => i.Position!.Value));
    }

    [Fact]
    public async Task A_third_group_waits_for_the_first_so_a_resubmission_of_its_events_is_a_duplicate()
    {
        await using var held = new HeldStore(await SqliteEventStore.OpenAsync(DbPath));
        var ledger = new Ledger(held);
        held.HoldNextAppend();
        var first = await ledger.StartBatchesAsync([Parse(ledger, Started("a1", "a"))]);
        var second = await ledger.StartBatchesAsync([Parse(ledger, Started("b1", "b"))]);
        var starting = ledger.StartBatchesAsync([Parse(ledger, Started("a1", "a"), Expanded("a2", "a"))]);
        await Task.Delay(200);
        Assert.False(starting.IsCompleted); // decided only once the first group settled
        held.Release();
        var third = await (await starting);
        Assert.True(third[0].Stored);
        Assert.Equal([(Outcome.Duplicate, 1L), (Outcome.Accepted, 3L)], third[0].Items.Select(i => (i.Outcome, i.Position!.Value)));
        Assert.Equal([2L], (await second)[0].Items.Select(i => i.Position!.Value));
        Assert.True((await first)[0].Stored);
    }

    [Fact]
    public void Generated_event_ids_are_uuid_v7_text_unique_and_in_time_order()
    {
        var t = DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var ids = Enumerable.Range(0, 3_000).Select(i => EventIds.New(t.AddMilliseconds(i))).ToList();
        Assert.All(ids, id => Assert.Matches("^ev-[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$", id));
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
        // The text is the standard UUID's: its first 48 bits are the Unix milliseconds.
        Assert.Equal(t.ToUnixTimeMilliseconds(), Convert.ToInt64(ids[0][3..15], 16));
        Assert.Equal(7, Guid.Parse(ids[0][3..]).Version);
    }

    [Fact]
    public async Task A_duplicate_inside_one_batch_gets_the_stored_position()
    {
        await using var store = await SqliteEventStore.OpenAsync(DbPath);
        var ledger = new Ledger(store);
        var r = await ledger.SubmitEachAsync(Parse(ledger, Started("a1", "a"), Started("a1", "a"), Started("a1", "a", mrr: "5")));
        Assert.Equal([Outcome.Accepted, Outcome.Duplicate, Outcome.Conflict], r.Select(x => x.Outcome));
        Assert.Equal([1L, 1L], r.Take(2).Select(x => x.Position!.Value));
    }

    [Fact]
    public async Task Writers_in_parallel_never_decide_against_a_stale_account()
    {
        // Four ledgers (as four processes) each contract the same contract by 30 from 100: only three can succeed.
        await using (var setup = await SqliteEventStore.OpenAsync(DbPath))
            await new Ledger(setup).SubmitEachAsync(Parse(new Ledger(setup), Started("s", "shared")));
        var stores = new List<SqliteEventStore>();
        for (int i = 0; i < 4; i++) stores.Add(await SqliteEventStore.OpenAsync(DbPath));
        var ledgers = stores.Select(s => new Ledger(s)).ToList();
        foreach (var l in ledgers) await l.SubmitEachAsync([]); // nothing, but each has its own cache
        var results = await Task.WhenAll(ledgers.Select((l, i) => Task.Run(() => l.SubmitEachAsync(Parse(l, Contracted($"c{i}", "shared", "30"))))));
        var outcomes = results.Select(r => r.Single().Outcome).ToList();
        Assert.Equal(3, outcomes.Count(o => o == Outcome.Accepted));
        Assert.Equal(1, outcomes.Count(o => o == Outcome.Rejected));
        foreach (var s in stores) await s.DisposeAsync();
    }

    [Fact]
    public async Task A_refusal_is_never_decided_against_a_state_another_writer_has_moved_on_from()
    {
        await using var s1 = await SqliteEventStore.OpenAsync(DbPath);
        await using var s2 = await SqliteEventStore.OpenAsync(DbPath);
        var (l1, l2) = (new Ledger(s1), new Ledger(s2));
        Assert.Equal(Outcome.Accepted, (await l1.SubmitEachAsync(Parse(l1, Started("s", "a")))).Single().Outcome);
        Assert.Equal(Outcome.Accepted, (await l2.SubmitEachAsync(Parse(l2, Expanded("x", "a", "100")))).Single().Outcome);
        // 100 + 100 − 150 > 0: only a ledger that still believed the MRR was 100 would refuse this.
        Assert.Equal(Outcome.Accepted, (await l1.SubmitEachAsync(Parse(l1, Contracted("c", "a", "150")))).Single().Outcome);
    }

    [Fact]
    public async Task A_resubmitted_event_is_a_duplicate_and_nothing_after_it_counts_it_twice()
    {
        await using var store = await SqliteEventStore.OpenAsync(DbPath);
        var ledger = new Ledger(store);
        await ledger.SubmitEachAsync(Parse(ledger, Started("s", "a"), Expanded("x", "a", "100")));
        // MRR is 200. Counting the resubmitted +100 twice would make a 250 contraction look valid.
        var fresh = new Ledger(store);
        var r = await fresh.SubmitEachAsync(Parse(fresh, Expanded("x", "a", "100"), Contracted("c", "a", "250"), Started("s", "a")));
        Assert.Equal([Outcome.Duplicate, Outcome.Rejected, Outcome.Duplicate], r.Select(x => x.Outcome));
        Assert.Equal([2L, 1L], new[] { r[0].Position!.Value, r[2].Position!.Value });
        Assert.Equal(2, (await store.GetHeadAsync()).Position);
    }

    [Fact]
    public async Task Evicting_the_account_cache_mid_import_keeps_every_decision_right()
    {
        await using var store = await SqliteEventStore.OpenAsync(DbPath);
        var ledger = new Ledger(store, maxCachedAccounts: 5);
        var lines = Enumerable.Range(0, 12).Select(i => Started($"s{i}", $"a{i}"))
            .Concat(Enumerable.Range(0, 12).Select(i => Expanded($"x{i}", $"a{i}")))
            .Concat(Enumerable.Range(0, 12).Select(i => Contracted($"c{i}", $"a{i}", "105")))
            .ToList();
        var outcomes = new List<SubmissionResult>();
        await Importer.ImportAsync(ledger, lines, (_, r) => outcomes.Add(r), chunkSize: 4);
        Assert.Equal(36, outcomes.Count);
        Assert.All(outcomes, o => Assert.Equal(Outcome.Accepted, o.Outcome));
        Assert.Equal(Enumerable.Range(1, 36).Select(i => (long)i), outcomes.Select(o => o.Position!.Value));
    }

    [Fact]
    public async Task Making_room_in_the_account_cache_keeps_the_accounts_in_use()
    {
        // One busy account, used after every tenth of 60 accounts that each come once, through a cache of 20: the
        // busy one is never evicted, so it is never read back from the store (a cache cleared whole whenever it was
        // full read it back after most clears).
        await using var inner = await SqliteEventStore.OpenAsync(DbPath);
        var store = new StreamReadCounter(inner);
        var ledger = new Ledger(store, maxCachedAccounts: 20);
        var lines = new List<string> { Started("hot-s", "hot") };
        for (int i = 0; i < 60; i++)
        {
            lines.Add(Started($"s{i}", $"a{i}"));
            if (i % 10 == 9) lines.Add(Expanded($"hot-x{i}", "hot", amount: "1"));
        }
        var outcomes = new List<SubmissionResult>();
        await Importer.ImportAsync(ledger, lines, (_, r) => outcomes.Add(r), chunkSize: 4);
        Assert.All(outcomes, o => Assert.Equal(Outcome.Accepted, o.Outcome));
        Assert.Equal(0, store.ReadsOf("hot"));
        // The cold accounts did go: a contraction of the first needs its stream again, and is decided on it.
        var later = await ledger.SubmitEachAsync(Parse(ledger, Contracted("a0-c", "a0", "40")));
        Assert.Equal(Outcome.Accepted, later.Single().Outcome);
        Assert.Equal(1, store.ReadsOf("a0"));
    }

    /// <summary>Counts the streams the writer reads back from the store, per account.</summary>
    private sealed class StreamReadCounter(IEventStore inner) : IEventStore
    {
        private readonly Dictionary<string, int> _reads = new(StringComparer.Ordinal);

        public int ReadsOf(string accountId) => _reads.GetValueOrDefault(accountId);

        public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string accountId, CancellationToken ct = default)
        {
            _reads[accountId] = ReadsOf(accountId) + 1;
            return inner.ReadStreamAsync(accountId, ct);
        }

        public Task<IReadOnlyDictionary<string, IReadOnlyList<RecordedEvent>>> ReadStreamsAsync(IReadOnlyCollection<string> accountIds, CancellationToken ct = default)
        {
            foreach (var id in accountIds) _reads[id] = ReadsOf(id) + 1;
            return inner.ReadStreamsAsync(accountIds, ct);
        }

        public Task<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> appends, CancellationToken ct = default) => inner.AppendAsync(appends, ct);

        public Task<AppendResult> AppendNewAsync(IReadOnlyList<StreamAppend> appends, CancellationToken ct = default) => inner.AppendNewAsync(appends, ct);

        public Task<IReadOnlyList<string>> ReadAccountIdsAsync(long afterPosition, long toPosition, CancellationToken ct = default) =>
            inner.ReadAccountIdsAsync(afterPosition, toPosition, ct);

        public IAsyncEnumerable<RecordedEvent> ReadAllAsync(long fromPosition = 1, long? toPosition = null, CancellationToken ct = default) =>
            inner.ReadAllAsync(fromPosition, toPosition, ct);

        public IAsyncEnumerable<PositionedEvent> ReadEventsAsync(long fromPosition = 1, long? toPosition = null, CancellationToken ct = default) =>
            inner.ReadEventsAsync(fromPosition, toPosition, ct);

        public IAsyncEnumerable<RawEventBatch> ReadRawAsync(long fromPosition = 1, long? toPosition = null, string? storedType = null, CancellationToken ct = default) =>
            inner.ReadRawAsync(fromPosition, toPosition, storedType, ct);

        public Task<IReadOnlyDictionary<string, RecordedEvent>> FindEventsAsync(IReadOnlyCollection<string> eventIds, CancellationToken ct = default) =>
            inner.FindEventsAsync(eventIds, ct);

        public Task<StoreHead> GetHeadAsync(CancellationToken ct = default) => inner.GetHeadAsync(ct);

        public Task<IReadOnlyList<(long Position, string TraceContext)>> TraceContextsAsync(long fromPosition, long toPosition, int limit, CancellationToken ct = default) =>
            inner.TraceContextsAsync(fromPosition, toPosition, limit, ct);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task An_import_begun_on_an_empty_log_still_sees_an_account_another_writer_creates_meanwhile()
    {
        // The importer knows every account of a log it watched grow from empty, so it skips looking up accounts it
        // has not seen; another writer's account must still be found, or this expansion would be refused.
        await using var s1 = await SqliteEventStore.OpenAsync(DbPath);
        await using var s2 = await SqliteEventStore.OpenAsync(DbPath);
        var (importer, other) = (new Ledger(s1), new Ledger(s2));
        IEnumerable<string> Lines()
        {
            for (int i = 0; i < 4; i++) yield return Started($"s{i}", $"a{i}");
            Assert.Equal(Outcome.Accepted, other.SubmitEachAsync(Parse(other, Started("late-s", "late"))).GetAwaiter().GetResult().Single().Outcome);
            for (int i = 0; i < 4; i++) yield return Expanded($"x{i}", $"a{i}");
            yield return Expanded("late-x", "late");
        }
        var outcomes = new List<SubmissionResult>();
        await Importer.ImportAsync(importer, Lines(), (_, r) => outcomes.Add(r), chunkSize: 4);
        Assert.Equal(9, outcomes.Count);
        Assert.All(outcomes, o => Assert.Equal(Outcome.Accepted, o.Outcome));
        Assert.Equal(10, (await s1.GetHeadAsync()).Position);
    }

    /// <summary>Hands out at most one byte per read, so every terminator and the byte-order mark fall across reads.</summary>
    private sealed class TrickleStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Importing_a_file_as_bytes_reads_the_same_lines_as_a_text_reader(bool trickle)
    {
        var big = "{\"type\":\"OwnerAssigned\",\"eventId\":\"o-big\",\"accountId\":\"a\",\"ownerId\":\"csm\",\"effectiveDate\":\"2024-01-01\",\"metadata\":{\"note\":\"" + new string('x', 1_500_000) + "\"}}";
        var text = "\uFEFF" + Started("s1", "a") + "\r\n" + Expanded("x1", "a") + "\n\n" + Started("s2", "b") + "\r" + "not json" + "\r\n"
                   + Expanded("x2", "b", "20") + "\n" + big + "\n" + Started("s1", "a") + "\r\n\r\n" + Expanded("x3", "a", "5");
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        var expected = new List<string>();
        using (var reader = new StreamReader(new MemoryStream(bytes)))
            while (reader.ReadLine() is { } line) expected.Add(line);
        Assert.Equal(10, expected.Count);

        var fromText = new List<SubmissionResult>();
        await using (var store = await SqliteEventStore.OpenAsync(Path.Combine(_dir.Path, "text.db")))
            await Importer.ImportAsync(new Ledger(store), expected, (_, r) => fromText.Add(r), chunkSize: 3);
        var fromBytes = new List<SubmissionResult>();
        await using (var store = await SqliteEventStore.OpenAsync(Path.Combine(_dir.Path, "bytes.db")))
        await using (var stream = trickle ? new TrickleStream(bytes) : new MemoryStream(bytes))
            await Importer.ImportAsync(new Ledger(store), stream, (_, r) => fromBytes.Add(r), chunkSize: 3);

        Assert.Equal(fromText.Select(r => (r.Outcome, r.EventId, r.Position, r.Error?.Code)), fromBytes.Select(r => (r.Outcome, r.EventId, r.Position, r.Error?.Code)));
        // The blank lines and "not json" are invalid, and so is the 1.5 MB line (metadata is limited), read whole.
        Assert.Equal([Outcome.Accepted, Outcome.Accepted, Outcome.Invalid, Outcome.Accepted, Outcome.Invalid, Outcome.Accepted, Outcome.Invalid, Outcome.Duplicate, Outcome.Invalid, Outcome.Accepted],
            fromBytes.Select(r => r.Outcome));
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("\n\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    [InlineData("x")]
    [InlineData("\uFEFF")]
    [InlineData("\uFEFF\n")]
    public async Task Short_files_read_as_bytes_give_the_lines_a_text_reader_gives(string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        var expected = new List<string>();
        using (var reader = new StreamReader(new MemoryStream(bytes)))
            while (reader.ReadLine() is { } line) expected.Add(line);
        await using var store = await SqliteEventStore.OpenAsync(DbPath);
        var outcomes = new List<SubmissionResult>();
        var summary = await Importer.ImportAsync(new Ledger(store), new MemoryStream(bytes), (_, r) => outcomes.Add(r));
        Assert.Equal(expected.Count, summary.Lines);
        Assert.All(outcomes, o => Assert.Equal(Outcome.Invalid, o.Outcome));
    }

    [Fact]
    public async Task Concurrent_importers_store_every_event_once_with_gapless_positions()
    {
        const int writers = 4, accounts = 30;
        var stores = new List<SqliteEventStore>();
        for (int i = 0; i < writers; i++) stores.Add(await SqliteEventStore.OpenAsync(DbPath));
        // Every writer submits the same starts (racing for the same eventIds) and its own expansions on shared accounts.
        await Task.WhenAll(stores.Select((s, w) => Task.Run(async () =>
        {
            var ledger = new Ledger(s);
            var lines = Enumerable.Range(0, accounts).Select(a => Started($"start-{a}", $"acct-{a}"))
                .Concat(Enumerable.Range(0, accounts).SelectMany(a => Enumerable.Range(0, 5).Select(k => Expanded($"x-{w}-{a}-{k}", $"acct-{a}"))))
                .ToList();
            for (int i = 0; i < lines.Count; i += 17)
            {
                var results = await ledger.SubmitEachAsync(Parse(ledger, [.. lines.Skip(i).Take(17)]));
                Assert.All(results, r => Assert.Contains(r.Outcome, new[] { Outcome.Accepted, Outcome.Duplicate }));
            }
        })));
        await using var reader = await SqliteEventStore.OpenAsync(DbPath);
        var log = new List<RecordedEvent>();
        await foreach (var e in reader.ReadAllAsync()) log.Add(e);
        Assert.Equal(accounts + (writers * accounts * 5), log.Count);
        Assert.Equal(Enumerable.Range(1, log.Count).Select(i => (long)i), log.Select(e => e.Position));
        Assert.Equal(log.Count, log.Select(e => e.EventId).Distinct().Count());
        foreach (var stream in log.GroupBy(e => e.AccountId))
            Assert.Equal(Enumerable.Range(1, stream.Count()).Select(i => (long)i), stream.Select(e => e.StreamVersion));
        Assert.True((await HashChain.VerifyAsync(reader)).IsIntact);
        foreach (var s in stores) await s.DisposeAsync();
    }
}
