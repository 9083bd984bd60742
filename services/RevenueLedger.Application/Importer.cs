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
    public const int ChunkSize = 32_768;

    public static async Task<ImportSummary> ImportAsync(
        Ledger ledger, IEnumerable<string> lines, Action<long, SubmissionResult>? onOutcome = null,
        Action<long>? progress = null, int chunkSize = ChunkSize, CancellationToken ct = default)
    {
        var counts = Enum.GetValues<Outcome>().ToDictionary(o => o, _ => 0L);
        long submitted = 0;
        using var source = lines.GetEnumerator();
        await ledger.SubmitChunksAsync(ParsedChunksAsync(ledger, source, chunkSize, ct), results =>
        {
            for (int i = 0; i < results.Count; i++)
            {
                counts[results[i].Outcome]++;
                onOutcome?.Invoke(submitted + i + 1, results[i]);
            }
            submitted += results.Count;
            progress?.Invoke(submitted);
        }, ct);
        var head = await ledger.Store.GetHeadAsync(ct);
        return new ImportSummary(submitted, counts, head.Position);
    }

    /// <summary>Chunks of parsed lines; the next chunk is parsed on the other cores while this one is decided.</summary>
    private static async IAsyncEnumerable<IReadOnlyList<ParseResult>> ParsedChunksAsync(Ledger ledger, IEnumerator<string> source, int chunkSize, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var parsing = ParseNextAsync(ledger, source, chunkSize, ct);
        while (true)
        {
            var parsed = await parsing;
            if (parsed.Length == 0) yield break;
            parsing = ParseNextAsync(ledger, source, chunkSize, ct);
            yield return parsed;
        }
    }

    private static Task<ParseResult[]> ParseNextAsync(Ledger ledger, IEnumerator<string> source, int chunkSize, CancellationToken ct)
    {
        var chunk = new List<string>(chunkSize);
        while (chunk.Count < chunkSize && source.MoveNext())
        {
            ct.ThrowIfCancellationRequested();
            chunk.Add(source.Current);
        }
        return chunk.Count == 0 ? Task.FromResult(Array.Empty<ParseResult>()) : Task.Run(() => ParseAll(ledger, chunk), ct);
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
