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
/// several writers (threads or processes) never store an event that was decided against a stale account. This file
/// holds the entry points and the group-commit pipeline; deciding and committing a chunk are in Ledger.Deciding.cs,
/// the account states it decides against in Ledger.Cache.cs.
/// </summary>
public sealed partial class Ledger(IEventStore store, Func<string>? newEventId = null, int maxCachedAccounts = 50_000)
{
    private const int MaxAttempts = 20;
    private readonly Func<string> _newEventId = newEventId ?? EventIds.New;
    /// <summary>Beyond this many accounts the known-account set is dropped and unknown accounts are looked up.</summary>
    public const int MaxKnownAccounts = 10_000_000;

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
}
