using System.Diagnostics;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.Hosting;
using RevenueLedger.ServiceDefaults;

namespace RevenueLedger.Ingestion;

/// <summary>Appends as every ingestion path does them (HTTP and bus): timed, counted and traced.</summary>
public static class Submissions
{
    /// <summary>
    /// Atomic batches in one append (see <see cref="Ledger.StartBatchesAsync"/>): returns once they are decided, with
    /// the task of their append.
    /// </summary>
    public static async Task<Task<IReadOnlyList<BatchResult>>> StartGroupAsync(LedgerStores stores, IReadOnlyList<IReadOnlyList<ParseResult>> batches, CancellationToken ct)
    {
        // A group commit serves many requests: one span, in the trace of the first, linked to the others'.
        var span = StartAppend(batches.SelectMany(b => b));
        var clock = Stopwatch.StartNew();
        try
        {
            return Finish(await Guarded(stores, stores.Ledger.StartBatchesAsync(batches, ct)));
        }
        catch
        {
            span?.Dispose();
            throw;
        }

        async Task<IReadOnlyList<BatchResult>> Finish(Task<IReadOnlyList<BatchResult>> appending)
        {
            using (span)
            {
                var results = await Guarded(stores, appending);
                Record(span, clock, results.Where(r => r.Stored).Sum(r => r.Items.Count(i => i.Outcome == Outcome.Accepted)));
                return results;
            }
        }
    }

    /// <summary>A lost database connection clears the pools before the failure goes on to the caller (who retries).</summary>
    private static async Task<T> Guarded<T>(LedgerStores stores, Task<T> append)
    {
        try
        {
            return await append;
        }
        catch (Exception ex)
        {
            stores.OnFailure(ex);
            throw;
        }
    }

    private static Activity? StartAppend(IEnumerable<ParseResult> items)
    {
        if (!LedgerTelemetry.Source.HasListeners()) return null;
        var contexts = items.Select(i => i.TraceContext).Where(c => c is not null).Distinct().ToList();
        ActivityContext.TryParse(contexts.FirstOrDefault(), null, out var parent);
        var links = contexts.Skip(1).Take(64)
            .Select(c => ActivityContext.TryParse(c, null, out var l) ? new ActivityLink(l) : default).Where(l => l.Context != default);
        var span = LedgerTelemetry.Source.StartActivity("ledger.append", ActivityKind.Internal, parent, links: links);
        span?.SetTag("ledger.submissions", items.Count());
        return span;
    }

    private static void Record(Activity? span, Stopwatch clock, int accepted)
    {
        LedgerTelemetry.AppendDuration.Record(clock.Elapsed.TotalSeconds);
        if (accepted > 0) LedgerTelemetry.EventsAppended.Add(accepted);
        span?.SetTag("ledger.accepted", accepted);
    }
}
