using RevenueLedger.Domain;

namespace RevenueLedger.Application;

public sealed record ImportSummary(long Lines, IReadOnlyDictionary<Outcome, long> Counts, long HeadPosition)
{
    public long Count(Outcome o) => Counts.GetValueOrDefault(o);
}

/// <summary>
/// Submits JSONL lines in order, each on its own (spec §2 outcomes per line). Lines are decided and appended in
/// chunks for throughput; since eventIds are idempotent, re-running an interrupted import completes it.
/// </summary>
public static class Importer
{
    public const int ChunkSize = 4096;

    public static async Task<ImportSummary> ImportAsync(
        Ledger ledger, IEnumerable<string> lines, Action<long, SubmissionResult>? onOutcome = null,
        Action<long>? progress = null, CancellationToken ct = default)
    {
        var counts = Enum.GetValues<Outcome>().ToDictionary(o => o, _ => 0L);
        long lineNo = 0;
        var chunk = new List<string>(ChunkSize);
        async Task FlushAsync()
        {
            if (chunk.Count == 0) return;
            var parsed = ParseAll(ledger, chunk);
            var results = await ledger.SubmitEachAsync(parsed, ct);
            long first = lineNo - chunk.Count + 1;
            for (int i = 0; i < results.Count; i++)
            {
                counts[results[i].Outcome]++;
                onOutcome?.Invoke(first + i, results[i]);
            }
            chunk.Clear();
            progress?.Invoke(lineNo);
        }
        foreach (var line in lines)
        {
            ct.ThrowIfCancellationRequested();
            lineNo++;
            chunk.Add(line);
            if (chunk.Count == ChunkSize) await FlushAsync();
        }
        await FlushAsync();
        var head = await ledger.Store.GetHeadAsync(ct);
        return new ImportSummary(lineNo, counts, head.Position);
    }

    /// <summary>Parsing is independent per line, so it uses every core; deciding stays sequential.</summary>
    private static ParseResult[] ParseAll(Ledger ledger, List<string> lines)
    {
        var parsed = new ParseResult[lines.Count];
        Parallel.For(0, lines.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            i => parsed[i] = ledger.Parse(lines[i]));
        return parsed;
    }
}
