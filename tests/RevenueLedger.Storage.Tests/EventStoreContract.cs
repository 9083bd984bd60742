using System.Collections.Concurrent;
using RevenueLedger.Domain;
using RevenueLedger.EventStore;

namespace RevenueLedger.Storage.Tests;

/// <summary>
/// What every event store must do. A backend's test class derives from this and supplies a fresh, empty store
/// per test; the assertions are not to be changed per backend.
/// </summary>
public abstract class EventStoreContract
{
    protected FakeClock Clock { get; } = new(new DateTimeOffset(2026, 11, 22, 9, 30, 0, TimeSpan.Zero));

    /// <summary>A new, empty store. Several calls in one test must open the same store (as several processes would).</summary>
    protected abstract Task<IEventStore> OpenStoreAsync();

    private static int _ids;

    protected static ContractStarted Start(string account, string contract = "c1", decimal mrr = 100, string? id = null) =>
        new(id ?? $"s{Interlocked.Increment(ref _ids)}", account, contract, new DateOnly(2024, 1, 1), mrr, "USD", Metadata.Empty);

    protected static ContractExpanded Expand(string account, decimal amount = 10, string? id = null) =>
        new(id ?? $"x{Interlocked.Increment(ref _ids)}", account, "c1", new DateOnly(2024, 2, 1), amount, "USD", "seats", Metadata.Empty);

    private static async Task<List<RecordedEvent>> All(IEventStore s, long from = 1)
    {
        var list = new List<RecordedEvent>();
        await foreach (var e in s.ReadAllAsync(from)) list.Add(e);
        return list;
    }

    [Fact]
    public async Task An_empty_store_has_head_zero_and_an_empty_log()
    {
        await using var s = await OpenStoreAsync();
        Assert.Equal(StoreHead.Empty, await s.GetHeadAsync());
        Assert.Empty(await All(s));
        Assert.Empty(await s.ReadStreamAsync("acme"));
    }

    [Fact]
    public async Task Appends_get_gapless_positions_stream_versions_and_recorded_at()
    {
        await using var s = await OpenStoreAsync();
        var r1 = await s.AppendAsync([new StreamAppend("acme", 0, [Start("acme"), Expand("acme")])]);
        var r2 = await s.AppendAsync([new StreamAppend("beta", 0, [Start("beta")]), new StreamAppend("acme", 2, [Expand("acme")])]);
        Assert.Equal([1L, 2L], r1.Positions);
        Assert.Equal([3L, 4L], r2.Positions);
        Assert.Equal(4, r2.HeadPosition);
        var log = await All(s);
        Assert.Equal([1L, 2L, 3L, 4L], log.Select(e => e.Position));
        Assert.Equal([1L, 2L, 3L], (await s.ReadStreamAsync("acme")).Select(e => e.StreamVersion));
        Assert.Equal([3L], (await s.ReadStreamAsync("beta")).Select(e => e.Position));
        Assert.All(log, e => Assert.Equal(Clock.GetUtcNow(), e.RecordedAtUtc));
        Assert.Equal(4, (await s.GetHeadAsync()).Position);
    }

    [Fact]
    public async Task Stored_events_read_back_equal_with_versioned_type_names()
    {
        await using var s = await OpenStoreAsync();
        var started = Start("acme") with { Metadata = Metadata.From([new("source", "billing"), new("trace", "abc")]) };
        await s.AppendAsync([new StreamAppend("acme", 0, [started])]);
        var stored = Assert.Single(await s.ReadStreamAsync("acme"));
        Assert.Equal("V1.ContractStarted", stored.StoredType);
        Assert.Equal(started, stored.Event);
        Assert.Equal(started.EventId, stored.EventId);
    }

    [Fact]
    public async Task Read_all_from_a_position_and_up_to_a_position()
    {
        await using var s = await OpenStoreAsync();
        foreach (var a in new[] { "a", "b", "c", "d", "e" }) await s.AppendAsync([new StreamAppend(a, 0, [Start(a)])]);
        Assert.Equal([3L, 4L, 5L], (await All(s, 3)).Select(e => e.Position));
        var window = new List<long>();
        await foreach (var e in s.ReadAllAsync(2, 3)) window.Add(e.Position);
        Assert.Equal([2L, 3L], window);
    }

    [Fact]
    public async Task A_wrong_expected_version_stores_nothing()
    {
        await using var s = await OpenStoreAsync();
        await s.AppendAsync([new StreamAppend("acme", 0, [Start("acme")])]);
        var ex = await Assert.ThrowsAsync<WrongExpectedVersionException>(() => s.AppendAsync([new StreamAppend("acme", 0, [Expand("acme")])]));
        Assert.Equal(1, ex.Actual);
        Assert.Single(await All(s));
    }

    [Fact]
    public async Task A_stream_another_writer_began_is_not_new_to_a_second_writer()
    {
        // The second writer has never seen "acme" (as a second process would not): expecting it new must fail, for
        // each way of appending, and store nothing.
        await using var first = await OpenStoreAsync();
        var acmeStart = Start("acme");
        await first.AppendAsync([new StreamAppend("acme", 0, [acmeStart]), new StreamAppend("beta", 0, [Start("beta")])]);
        await using var second = await OpenStoreAsync();
        var ex = await Assert.ThrowsAsync<WrongExpectedVersionException>(() => second.AppendNewAsync(
            [new StreamAppend("gamma", 0, [Start("gamma")]), new StreamAppend("acme", 0, [Start("acme")])]));
        Assert.Equal(("acme", 1L), (ex.AccountId, ex.Actual));
        ex = await Assert.ThrowsAsync<WrongExpectedVersionException>(() => second.AppendAsync([new StreamAppend("beta", 0, [Expand("beta")])]));
        Assert.Equal(("beta", 1L), (ex.AccountId, ex.Actual));
        Assert.Equal(2, (await second.GetHeadAsync()).Position);
        Assert.Empty(await second.ReadStreamAsync("gamma"));
        // A resubmission of the stored event is a duplicate, and teaches the second writer nothing false about the
        // stream's version: expecting the right one then works.
        var again = await second.AppendAsync([new StreamAppend("acme", 0, [acmeStart])]);
        Assert.Equal([true], again.Duplicates);
        await second.AppendNewAsync([new StreamAppend("acme", 1, [Expand("acme")])]);
        Assert.Equal([1L, 2L], (await second.ReadStreamAsync("acme")).Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task Several_streams_read_at_once_each_come_in_version_order()
    {
        await using var s = await OpenStoreAsync();
        for (int i = 0; i < 12; i++)
            await s.AppendAsync([
                new StreamAppend("a", i == 0 ? 0 : null, [i == 0 ? Start("a") : Expand("a")]),
                new StreamAppend("b", i == 0 ? 0 : null, [i == 0 ? Start("b") : Expand("b"), Expand("b")]),
            ]);
        var streams = await s.ReadStreamsAsync(["b", "a", "nobody"]);
        Assert.Equal(["a", "b"], streams.Keys.Order());
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), streams["a"].Select(e => e.StreamVersion));
        Assert.Equal(Enumerable.Range(1, 24).Select(i => (long)i), streams["b"].Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task A_multi_stream_append_is_atomic()
    {
        await using var s = await OpenStoreAsync();
        await s.AppendAsync([new StreamAppend("acme", 0, [Start("acme")])]);
        await Assert.ThrowsAsync<WrongExpectedVersionException>(() => s.AppendAsync(
            [new StreamAppend("beta", 0, [Start("beta")]), new StreamAppend("acme", 5, [Expand("acme")])]));
        Assert.Empty(await s.ReadStreamAsync("beta"));
        Assert.Equal(1, (await s.GetHeadAsync()).Position);
    }

    [Fact]
    public async Task The_same_event_id_and_content_is_a_duplicate_not_a_second_event()
    {
        await using var s = await OpenStoreAsync();
        var e = Start("acme", id: "e1");
        await s.AppendAsync([new StreamAppend("acme", 0, [e])]);
        var again = await s.AppendAsync([new StreamAppend("acme", 0, [e with { Mrr = 100.00m }])]);
        Assert.Equal([1L], again.Positions);
        Assert.Equal([true], again.Duplicates);
        Assert.Single(await All(s));
    }

    [Fact]
    public async Task A_batch_mixing_a_duplicate_and_new_events_stores_only_the_new_ones()
    {
        await using var s = await OpenStoreAsync();
        var e = Start("acme", id: "e1");
        await s.AppendAsync([new StreamAppend("acme", 0, [e])]);
        var r = await s.AppendAsync([new StreamAppend("acme", 1, [e, Expand("acme")])]);
        Assert.Equal([1L, 2L], r.Positions);
        Assert.Equal([true, false], r.Duplicates);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_id_given_twice_in_one_append_is_stored_once_and_its_repeat_is_a_duplicate(bool asNew)
    {
        await using var s = await OpenStoreAsync();
        var e = Start("acme", id: "e1");
        StreamAppend[] append = [new StreamAppend("acme", 0, [e, Expand("acme")]), new StreamAppend("beta", 0, [Start("beta")]), new StreamAppend("acme", null, [e])];
        var r = asNew ? await s.AppendNewAsync(append) : await s.AppendAsync(append);
        Assert.Equal([1L, 2L, 3L, 1L], r.Positions);
        Assert.Equal([false, false, false, true], r.Duplicates);
        Assert.Equal(3, (await s.GetHeadAsync()).Position);
    }

    [Fact]
    public async Task An_id_given_twice_in_one_append_with_other_content_is_a_conflict_and_stores_nothing()
    {
        await using var s = await OpenStoreAsync();
        var ex = await Assert.ThrowsAsync<EventIdConflictException>(() => s.AppendAsync(
            [new StreamAppend("acme", 0, [Start("acme", id: "e1")]), new StreamAppend("beta", 0, [Start("beta", id: "e1")])]));
        Assert.Equal(1, ex.StoredPosition);
        Assert.Equal(0, (await s.GetHeadAsync()).Position);
    }

    [Fact]
    public async Task The_same_event_id_with_other_content_is_a_conflict_and_stores_nothing()
    {
        await using var s = await OpenStoreAsync();
        await s.AppendAsync([new StreamAppend("acme", 0, [Start("acme", id: "e1")])]);
        var ex = await Assert.ThrowsAsync<EventIdConflictException>(() => s.AppendAsync(
            [new StreamAppend("beta", 0, [Start("beta")]), new StreamAppend("other", 0, [Start("other", id: "e1")])]));
        Assert.Equal(1, ex.StoredPosition);
        Assert.Equal(1, (await s.GetHeadAsync()).Position);
    }

    [Fact]
    public async Task Appending_as_new_an_event_that_is_stored_fails_and_stores_nothing()
    {
        await using var s = await OpenStoreAsync();
        var e = Start("acme", id: "e1");
        await s.AppendAsync([new StreamAppend("acme", 0, [e])]);
        await Assert.ThrowsAsync<EventIdConflictException>(() => s.AppendNewAsync([new StreamAppend("beta", 0, [Start("beta")]), new StreamAppend("acme", 1, [e])]));
        Assert.Equal(1, (await s.GetHeadAsync()).Position);
        Assert.Equal([2L], (await s.AppendNewAsync([new StreamAppend("beta", 0, [Start("beta")])])).Positions);
    }

    [Fact]
    public async Task Find_events_by_id_across_streams()
    {
        await using var s = await OpenStoreAsync();
        await s.AppendAsync([new StreamAppend("a", 0, [Start("a", id: "ea")]), new StreamAppend("b", 0, [Start("b", id: "eb")])]);
        var found = await s.FindEventsAsync(["eb", "missing", "ea"]);
        Assert.Equal(2, found.Count);
        Assert.Equal(("b", 2L), (found["eb"].AccountId, found["eb"].Position));
    }

    [Fact]
    public async Task The_hash_chain_links_every_event_to_its_predecessor()
    {
        await using var s = await OpenStoreAsync();
        await s.AppendAsync([new StreamAppend("a", 0, [Start("a"), Expand("a")])]);
        await s.AppendAsync([new StreamAppend("b", 0, [Start("b")])]);
        var log = await All(s);
        var previous = HashChain.Genesis;
        foreach (var e in log)
        {
            Assert.Equal(HashChain.Compute(e, previous), e.Hash);
            previous = e.Hash;
        }
        var verify = await HashChain.VerifyAsync(s);
        Assert.True(verify.IsIntact, verify.Problem);
        Assert.Equal((3L, previous), (verify.VerifiedCount, verify.HeadHash));
        Assert.Equal(previous, (await s.GetHeadAsync()).Hash);
    }

    [Fact]
    public async Task Each_hash_is_sha256_of_the_documented_preimage()
    {
        await using var s = await OpenStoreAsync();
        await s.AppendAsync([new StreamAppend("a", 0, [Start("a", id: "e1"), Expand("a", id: "e2")])]);
        var log = await All(s);
        static string Sha(string text) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
        var previous = HashChain.Genesis;
        foreach (var e in log)
        {
            var content = Sha($"a|{e.StoredType}|{e.EventId}|{e.Payload}");
            Assert.Equal(Sha($"{e.Position}|{e.StreamVersion}|{e.RecordedAt}|{previous}|{content}"), e.Hash);
            previous = e.Hash;
        }
    }

    [Fact]
    public async Task Raw_reads_filter_by_type_and_parse_to_the_stored_events()
    {
        await using var s = await OpenStoreAsync();
        // Text beyond ASCII too: raw reads copy the stored UTF-8 bytes as they are.
        var expand = Expand("a", id: "x1") with { Metadata = Metadata.From([new("note", "Zürich — 日本 ✓ \U0001F600")]) };
        await s.AppendAsync([new StreamAppend("a", 0, [Start("a"), expand, new EventReversed("r1", "a", "x1", null, Metadata.Empty)])]);
        var reversals = new List<PositionedEvent>();
        await foreach (var batch in s.ReadRawAsync(1, null, "V1.EventReversed")) reversals.AddRange(batch.Parse());
        Assert.Equal(3, Assert.Single(reversals).Position);
        var all = new List<PositionedEvent>();
        await foreach (var e in s.ReadEventsAsync(2)) all.Add(e);
        Assert.Equal([2L, 3L], all.Select(e => e.Position));
        Assert.Equal(expand, all[0].Event);
    }

    [Fact]
    public async Task A_reader_following_the_log_never_skips_an_event_that_commits_late()
    {
        const int writers = 8, appendsEach = 20;
        var stores = new List<IEventStore>();
        for (int i = 0; i < writers; i++) stores.Add(await OpenStoreAsync());
        await using var reader = await OpenStoreAsync();
        var writing = Task.WhenAll(stores.Select((store, w) => Task.Run(async () =>
        {
            for (int i = 0; i < appendsEach; i++)
                await store.AppendAsync([new StreamAppend($"w{w}-{i}", 0, [Start($"w{w}-{i}"), Expand($"w{w}-{i}")])]);
        })));
        // A subscriber polls from the last position it saw: if N+1 were ever visible before N, it would skip N.
        long last = 0;
        while (true)
        {
            bool done = writing.IsCompleted;
            await foreach (var e in reader.ReadAllAsync(last + 1))
            {
                Assert.Equal(last + 1, e.Position);
                last = e.Position;
            }
            if (done) break;
        }
        await writing;
        Assert.Equal(writers * appendsEach * 2, last);
        foreach (var s in stores) await s.DisposeAsync();
    }

    [Fact]
    public async Task Concurrent_appenders_lose_nothing_and_leave_no_gap()
    {
        const int writers = 8, appendsEach = 25;
        var stores = new List<IEventStore>();
        for (int i = 0; i < writers; i++) stores.Add(await OpenStoreAsync());
        var conflicts = new ConcurrentBag<int>();
        // Every writer appends to its own stream and to one shared stream, retrying on a version conflict.
        await Task.WhenAll(stores.Select((store, w) => Task.Run(async () =>
        {
            await store.AppendAsync([new StreamAppend($"own-{w}", 0, [Start($"own-{w}")])]);
            for (int i = 0; i < appendsEach; i++)
            {
                while (true)
                {
                    long version = (await store.ReadStreamAsync("shared")).Count;
                    var e = version == 0 ? (LedgerEvent)Start("shared", id: $"shared-start-{w}-{i}") : Expand("shared", id: $"shared-{w}-{i}");
                    try
                    {
                        await store.AppendAsync([new StreamAppend("shared", version, [e]), new StreamAppend($"own-{w}", i + 1, [Expand($"own-{w}")])]);
                        break;
                    }
                    catch (WrongExpectedVersionException)
                    {
                        conflicts.Add(w);
                    }
                }
            }
        })));
        await using var reader = await OpenStoreAsync();
        var log = await All(reader);
        Assert.Equal(writers * (1 + (2 * appendsEach)), log.Count);
        Assert.Equal(Enumerable.Range(1, log.Count).Select(i => (long)i), log.Select(e => e.Position));
        Assert.Equal(Enumerable.Range(1, writers * appendsEach).Select(i => (long)i), (await reader.ReadStreamAsync("shared")).Select(e => e.StreamVersion));
        Assert.True((await HashChain.VerifyAsync(reader)).IsIntact);
        foreach (var s in stores) await s.DisposeAsync();
    }
}

public sealed class FakeClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
