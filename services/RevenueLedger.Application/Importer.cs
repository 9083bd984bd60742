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
        using var source = lines.GetEnumerator();
        return await ImportChunksAsync(ledger, ParsedChunksAsync(() => ParseNextAsync(ledger, source, chunkSize, ct)), onOutcome, progress, ct);
    }

    /// <summary>
    /// The same from a UTF-8 JSONL stream, read as bytes: lines end at LF, CRLF or CR (as <see cref="StreamReader.ReadLine"/>
    /// reads them) and a leading byte-order mark is skipped, but no line becomes a string: a line is parsed straight
    /// from the file's bytes, which spares decoding it to UTF-16 and encoding it back for the JSON reader.
    /// </summary>
    public static Task<ImportSummary> ImportAsync(
        Ledger ledger, Stream utf8Lines, Action<long, SubmissionResult>? onOutcome = null,
        Action<long>? progress = null, int chunkSize = ChunkSize, CancellationToken ct = default)
    {
        var source = new ByteLines(utf8Lines);
        return ImportChunksAsync(ledger, ParsedChunksAsync(() => ParseNextAsync(ledger, source, chunkSize, ct)), onOutcome, progress, ct);
    }

    private static async Task<ImportSummary> ImportChunksAsync(
        Ledger ledger, IAsyncEnumerable<IReadOnlyList<ParseResult>> chunks, Action<long, SubmissionResult>? onOutcome,
        Action<long>? progress, CancellationToken ct)
    {
        var counts = Enum.GetValues<Outcome>().ToDictionary(o => o, _ => 0L);
        long submitted = 0;
        await ledger.SubmitChunksAsync(chunks, results =>
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

    /// <summary>Chunks of parsed lines (an empty one ends them); the next chunk is parsed on the other cores while this one is decided.</summary>
    private static async IAsyncEnumerable<IReadOnlyList<ParseResult>> ParsedChunksAsync(Func<Task<ParseResult[]>> parseNext)
    {
        var parsing = parseNext();
        while (true)
        {
            var parsed = await parsing;
            if (parsed.Length == 0) yield break;
            parsing = parseNext();
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
        return chunk.Count == 0 ? Task.FromResult(Array.Empty<ParseResult>()) : Task.Run(() => ParseAll(chunk.Count, i => ledger.Parse(chunk[i])), ct);
    }

    private static Task<ParseResult[]> ParseNextAsync(Ledger ledger, ByteLines source, int chunkSize, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var chunk = source.Next(chunkSize);
        if (chunk.Count == 0)
        {
            chunk.Dispose();
            return Task.FromResult(Array.Empty<ParseResult>());
        }
        return Task.Run(() =>
        {
            using (chunk) return ParseAll(chunk.Count, i => ledger.Parse(chunk.Line(i)));
        }, ct);
    }

    /// <summary>Parsing is independent per line, so it uses every core; deciding stays sequential.</summary>
    private static ParseResult[] ParseAll(int count, Func<int, ParseResult> parse)
    {
        var parsed = new ParseResult[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i => parsed[i] = parse(i));
        return parsed;
    }
}

/// <summary>Lines of a UTF-8 stream as byte ranges, a chunk at a time, each chunk's lines in one array of its own.</summary>
internal sealed class ByteLines(Stream stream)
{
    private byte[] _buffer = new byte[1 << 20];
    private int _base;        // the chunk being gathered starts here; reads move nothing before it
    private int _start, _end; // unread bytes are _buffer[_start.._end)
    private int _scanned;     // _buffer[_start.._scanned) holds no terminator: a long line arriving in pieces is scanned once
    private bool _eof, _begun, _lastWasCr;

    /// <summary>The next lines, up to <paramref name="max"/>; none at the end of the stream.</summary>
    public LineChunk Next(int max)
    {
        _base = _start;
        var lines = new List<(int Start, int Length)>(Math.Min(max, 1 << 16));
        while (lines.Count < max)
        {
            int at = FindTerminator();
            if (at < 0)
            {
                if (!_eof)
                {
                    Fill(); // at the end it only notes so, and the bytes left are scanned again knowing it
                    continue;
                }
                if (_start == _end) break; // no final unterminated line
                at = _end;
            }
            lines.Add((_start - _base, at - _start));
            _start = at;
            if (_start < _end)
            {
                // Consume the terminator; CRLF is one.
                _lastWasCr = _buffer[_start] == (byte)'\r';
                _start++;
            }
        }
        // One copy of the chunk's bytes (terminators included): its lines are parsed while the next chunk is read.
        // Pooled, and returned once parsed: a fresh multi-megabyte array per chunk made the collector run full
        // collections twice as often.
        var bytes = System.Buffers.ArrayPool<byte>.Shared.Rent(_start - _base);
        _buffer.AsSpan(_base, _start - _base).CopyTo(bytes);
        return new LineChunk(bytes, lines);
    }

    private int FindTerminator()
    {
        // A CR that ended the previous line, followed by LF at the start of this read, makes one CRLF.
        if (_lastWasCr && _start < _end)
        {
            if (_buffer[_start] == (byte)'\n') _start++;
            _lastWasCr = false;
        }
        if (!_begun && (_end - _start >= 3 || _eof))
        {
            if (_buffer.AsSpan(_start, _end - _start).StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) _start += 3;
            _begun = true;
        }
        if (!_begun) return -1;
        int from = Math.Max(_scanned, _start);
        int i = _buffer.AsSpan(from, _end - from).IndexOfAny((byte)'\n', (byte)'\r');
        _scanned = i < 0 ? _end : from;
        return i < 0 ? -1 : from + i;
    }

    private void Fill()
    {
        if (_base > 0)
        {
            Buffer.BlockCopy(_buffer, _base, _buffer, 0, _end - _base);
            (_start, _end, _scanned, _base) = (_start - _base, _end - _base, Math.Max(_scanned - _base, 0), 0);
        }
        if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
        int n = stream.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0) _eof = true;
        _end += n;
    }
}

/// <summary>A chunk's lines: ranges of one pooled array, given back by <see cref="Dispose"/>.</summary>
internal sealed class LineChunk(byte[] bytes, List<(int Start, int Length)> lines) : IDisposable
{
    public int Count => lines.Count;

    public ReadOnlySpan<byte> Line(int i) => bytes.AsSpan(lines[i].Start, lines[i].Length);

    public void Dispose() => System.Buffers.ArrayPool<byte>.Shared.Return(bytes);
}
