using System.Threading.Channels;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.Hosting;

namespace RevenueLedger.Ingestion;

/// <summary>
/// Group commit for every submission, single events and atomic batches alike: whatever arrives while one append is
/// being written goes into the next append together, each submission decided on its own (a refused one does not
/// affect the others, and a batch stays all or nothing). Under load this turns many transactions into few larger
/// ones (a batch of 1,000 events spent a third of its time on its own transaction); an idle request is written at once.
/// </summary>
public sealed class SubmissionQueue(LedgerStores stores, LedgerSignals signals, ILogger<SubmissionQueue> logger) : BackgroundService
{
    /// <summary>A group closes once it holds this many events (a single submission may be larger).</summary>
    private const int MaxGroupEvents = 10_000;

    private readonly Channel<(IReadOnlyList<ParseResult> Items, TaskCompletionSource<BatchResult> Done)> _queue =
        Channel.CreateUnbounded<(IReadOnlyList<ParseResult>, TaskCompletionSource<BatchResult>)>(new UnboundedChannelOptions { SingleReader = true });

    public async Task<SubmissionResult> SubmitAsync(ParseResult item, CancellationToken ct) => (await SubmitBatchAsync([item], ct)).Items[0];

    /// <summary>All or nothing, as <see cref="Ledger.SubmitBatchAsync"/>.</summary>
    public Task<BatchResult> SubmitBatchAsync(IReadOnlyList<ParseResult> items, CancellationToken ct)
    {
        var done = new TaskCompletionSource<BatchResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        // A caller that gave up never looks at the result; observe a failure here so it is not left unobserved.
        _ = done.Task.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        if (!_queue.Writer.TryWrite((items, done))) throw new TimeoutException("the ingestion queue is closed (the service is stopping); retry");
        // A caller that gives up still gets its events stored or refused; only its wait is cancelled.
        return done.Task.WaitAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await stores.Ledger.WarmUpAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping before it was done: the loop below answers whatever is queued.
        }
        catch (Exception ex)
        {
            // Not fatal: the first submission learns the same, or reports the store's failure to its caller.
            stores.OnFailure(ex);
            logger.LogWarning(ex, "The ledger could not read which accounts exist at start; the first submission will");
        }
        // The group before this one, still being appended: the next group is decided meanwhile, on top of it.
        Task previous = Task.CompletedTask;
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                var group = new List<(IReadOnlyList<ParseResult> Items, TaskCompletionSource<BatchResult> Done)>();
                for (int events = 0; events < MaxGroupEvents && _queue.Reader.TryRead(out var next); events += next.Items.Count) group.Add(next);
                Task<IReadOnlyList<BatchResult>> appending;
                try
                {
                    // Not cancelled by shutdown: a group that started appending finishes, so its answers are true.
                    appending = await Submissions.StartGroupAsync(stores, group.Select(g => g.Items).ToList(), CancellationToken.None);
                }
                catch (Exception ex)
                {
                    Fail(group, ex);
                    continue;
                }
                await previous; // at most one group waits behind the one being appended
                previous = AnswerAsync(group, appending);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _queue.Writer.TryComplete();
            // Transient for whoever waits: an HTTP client gets 503, a bus message is not acknowledged and comes back.
            while (_queue.Reader.TryRead(out var left)) left.Done.TrySetException(new TimeoutException("the service is stopping; nothing was stored, retry"));
        }
        await previous;
    }

    private async Task AnswerAsync(List<(IReadOnlyList<ParseResult> Items, TaskCompletionSource<BatchResult> Done)> group, Task<IReadOnlyList<BatchResult>> appending)
    {
        try
        {
            var results = await appending;
            long head = 0;
            for (int i = 0; i < group.Count; i++)
            {
                group[i].Done.TrySetResult(results[i]);
                // A refused batch's items keep what they would have been, without positions.
                if (results[i].Stored)
                    foreach (var r in results[i].Items)
                        if (r.Outcome == Outcome.Accepted) head = Math.Max(head, r.Position!.Value);
            }
            if (head > 0) signals.Appended(head);
        }
        catch (Exception ex)
        {
            Fail(group, ex);
        }
    }

    /// <summary>Nothing of the group was stored; every request answers with the error (503 for a store outage).</summary>
    private void Fail(List<(IReadOnlyList<ParseResult> Items, TaskCompletionSource<BatchResult> Done)> group, Exception ex)
    {
        logger.LogWarning(ex, "appending a group of {Count} submissions failed", group.Count);
        foreach (var g in group) g.Done.TrySetException(ex);
    }
}
