using System.Threading.Channels;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.Hosting;

namespace RevenueLedger.Ingestion;

/// <summary>
/// Group commit for single-event requests: whatever requests arrive while one append is being written go into the
/// next append together, each decided on its own (one refusal does not affect the others). Under load this turns
/// many small transactions into few larger ones; an idle request is written at once.
/// </summary>
public sealed class SubmissionQueue(LedgerStores stores, LedgerSignals signals, ILogger<SubmissionQueue> logger) : BackgroundService
{
    private const int MaxGroup = 1_000;
    private readonly Channel<(ParseResult Item, TaskCompletionSource<SubmissionResult> Done)> _queue =
        Channel.CreateUnbounded<(ParseResult, TaskCompletionSource<SubmissionResult>)>(new UnboundedChannelOptions { SingleReader = true });

    public Task<SubmissionResult> SubmitAsync(ParseResult item, CancellationToken ct)
    {
        var done = new TaskCompletionSource<SubmissionResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        // A caller that gave up never looks at the result; observe a failure here so it is not left unobserved.
        _ = done.Task.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        if (!_queue.Writer.TryWrite((item, done))) throw new TimeoutException("the ingestion queue is closed (the service is stopping); retry");
        // A caller that gives up still gets its event stored or refused; only its wait is cancelled.
        return done.Task.WaitAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var group = new List<(ParseResult Item, TaskCompletionSource<SubmissionResult> Done)>(MaxGroup);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                group.Clear();
                while (group.Count < MaxGroup && _queue.Reader.TryRead(out var next)) group.Add(next);
                try
                {
                    // Not cancelled by shutdown: a group that started appending finishes, so its answers are true.
                    var results = await Submissions.EachAsync(stores, group.Select(g => g.Item).ToList(), CancellationToken.None);
                    for (int i = 0; i < group.Count; i++) group[i].Done.TrySetResult(results[i]);
                    if (results.Any(r => r.Outcome == Outcome.Accepted)) signals.Appended(results.Max(r => r.Position ?? 0));
                }
                catch (Exception ex)
                {
                    // Nothing of the group was stored; every request answers with the error (503 for a store outage).
                    logger.LogWarning(ex, "appending a group of {Count} events failed", group.Count);
                    foreach (var g in group) g.Done.TrySetException(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _queue.Writer.TryComplete();
            // Transient for whoever waits: an HTTP client gets 503, a bus message is not acknowledged and comes back.
            while (_queue.Reader.TryRead(out var left)) left.Done.TrySetException(new TimeoutException("the service is stopping; nothing was stored, retry"));
        }
    }
}
