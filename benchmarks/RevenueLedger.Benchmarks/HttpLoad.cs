using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using RevenueLedger.Application;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Storage;

/// <summary>
/// Load from a separate process against running Gateway and Ingestion services (see run-http.sh). Each phase runs
/// N concurrent clients for a fixed time and reports throughput and latency percentiles; the replay baseline computes
/// the same windows answer from the log in this process.
/// </summary>
internal static class HttpLoad
{
    /// <param name="phases">"reads" (the reports and the replay baseline) or "writes" (single events and batches).</param>
    public static async Task<int> RunAsync(string gateway, string ingestion, string store, string readerKey, string writerKey, string phases)
    {
        if (phases is not ("reads" or "writes")) throw new ArgumentException($"phases must be reads or writes, got '{phases}'", nameof(phases));
        var windowsPath = "/v1/nrr/windows?window=quarter&from=2019-01-01&to=2026-01-01&groupBy=owner";
        using var reader = Client(gateway, readerKey, 64);
        using var writer = Client(ingestion, writerKey, 64);

        if (phases == "writes") return await WritesAsync(writer);

        // Warm up both services (JIT, connection pools, the gateway's first answers) before measuring.
        await Phase("warm-up", reader, 8, TimeSpan.FromSeconds(3), _ => Get(windowsPath), quiet: true);
        await Phase("warm-up", reader, 4, TimeSpan.FromSeconds(3), RandomRange, quiet: true);

        var windows = await Phase("GET /v1/nrr/windows quarter by owner, 32 connections", reader, 32, TimeSpan.FromSeconds(20), _ => Get(windowsPath));
        var range32 = await Phase("GET /v1/nrr any range by owner, 32 connections", reader, 32, TimeSpan.FromSeconds(20), RandomRange);
        var range4 = await Phase("GET /v1/nrr any range by owner, 4 connections", reader, 4, TimeSpan.FromSeconds(20), RandomRange);
        var range1 = await Phase("GET /v1/nrr any range by owner, 1 connection", reader, 1, TimeSpan.FromSeconds(20), RandomRange);

        // The same windows answer computed by replaying the log (what a ledger without read models would do).
        var sw = Stopwatch.StartNew();
        await using (var log = await StoreUri.Parse(store).OpenAsync(mustExist: true))
        {
            var snapshot = await LedgerSnapshot.LoadAsync(log);
            var reports = snapshot.Report(Window.Calendar(WindowKind.Quarter, new DateOnly(2019, 1, 1), new DateOnly(2026, 1, 1)));
            var json = ReportFormats.ToJson(snapshot.Position, reports, ReportPart.Nrr);
            GC.KeepAlive(json);
        }
        double replayMs = sw.Elapsed.TotalMilliseconds;
        Console.WriteLine(Invariant($"replay of the log for the same windows answer: {replayMs:F0} ms; ratio to the gateway's p50 {replayMs / windows.P50:F0}x, to its p99 {replayMs / windows.P99:F0}x"));
        return windows.Errors + range32.Errors + range4.Errors + range1.Errors == 0 ? 0 : 1;

        static Func<HttpClient, Task<HttpResponseMessage>> Get(string path) => c => c.GetAsync(path);

        static Func<HttpClient, Task<HttpResponseMessage>> RandomRange(Random rng)
        {
            var from = new DateOnly(2019, 1, 1).AddDays(rng.Next(0, 7 * 365 - 40));
            var to = from.AddDays(rng.Next(1, Math.Min(3 * 365, new DateOnly(2026, 1, 1).DayNumber - from.DayNumber)));
            return Get(Invariant($"/v1/nrr?from={from:yyyy-MM-dd}&to={to:yyyy-MM-dd}&groupBy=owner"));
        }
    }

    private static async Task<int> WritesAsync(HttpClient writer)
    {
        long next = 0;
        string Started() => Invariant($$"""{"type":"ContractStarted","accountId":"bench-{{Interlocked.Increment(ref next)}}-{{Environment.ProcessId}}","contractId":"c1","effectiveDate":"2025-06-01","mrr":"99.5","currency":"USD"}""");
        // Written straight as UTF-8: the client shares the two cores with the services it measures, and a body built
        // from a thousand interpolated strings, joined and re-encoded, took CPU from the services being measured.
        byte[] Batch()
        {
            var body = new System.Buffers.ArrayBufferWriter<byte>(200_000);
            void Write(ReadOnlySpan<byte> text) { text.CopyTo(body.GetSpan(text.Length)); body.Advance(text.Length); }
            Write("{\"events\":["u8);
            for (int i = 0; i < 1000; i++)
            {
                if (i > 0) Write(","u8);
                long id = Interlocked.Increment(ref next);
                if (!System.Text.Unicode.Utf8.TryWrite(body.GetSpan(256), CultureInfo.InvariantCulture,
                        $$"""{"type":"ContractStarted","accountId":"bench-{{id}}-{{Environment.ProcessId}}","contractId":"c1","effectiveDate":"2025-06-01","mrr":"99.5","currency":"USD"}""", out int n))
                    throw new InvalidOperationException("an event did not fit its buffer");
                body.Advance(n);
            }
            Write("]}"u8);
            return body.WrittenSpan.ToArray();
        }
        // Each write path is warmed up too, as the reads are: the first seconds of a new path are spent compiling it.
        await Phase("warm-up", writer, 32, TimeSpan.FromSeconds(5), _ => Post("/v1/events", Started()), quiet: true);
        var single = await Phase("POST /v1/events, 32 writers", writer, 32, TimeSpan.FromSeconds(20), _ => Post("/v1/events", Started()));
        await Phase("warm-up", writer, 4, TimeSpan.FromSeconds(10), _ => PostBytes("/v1/events/batch", Batch()), quiet: true);
        var batch = await Phase("POST /v1/events/batch of 1,000, 4 writers", writer, 4, TimeSpan.FromSeconds(20), _ => PostBytes("/v1/events/batch", Batch()));
        Console.WriteLine(Invariant($"batch events/s, 4 writers: {batch.PerSecond * 1000:F0}"));
        var batch8 = await Phase("POST /v1/events/batch of 1,000, 8 writers", writer, 8, TimeSpan.FromSeconds(20), _ => PostBytes("/v1/events/batch", Batch()));
        Console.WriteLine(Invariant($"batch events/s, 8 writers: {batch8.PerSecond * 1000:F0}"));
        return single.Errors + batch.Errors + batch8.Errors == 0 ? 0 : 1;

        static Func<HttpClient, Task<HttpResponseMessage>> Post(string path, string body) => PostBytes(path, Encoding.UTF8.GetBytes(body));

        static Func<HttpClient, Task<HttpResponseMessage>> PostBytes(string path, byte[] body) => c =>
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            return c.PostAsync(path, content);
        };
    }

    private sealed record Result(double PerSecond, double P50, double P99, int Errors);

    private static async Task<Result> Phase(string name, HttpClient client, int connections, TimeSpan duration,
        Func<Random, Func<HttpClient, Task<HttpResponseMessage>>> request, bool quiet = false)
    {
        var latencies = new List<double>[connections];
        int errors = 0;
        var stop = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async i =>
        {
            var rng = new Random(i * 7919 + name.Length);
            var mine = latencies[i] = [];
            while (stop.Elapsed < duration)
            {
                var send = request(rng);
                long t0 = Stopwatch.GetTimestamp();
                using var response = await send(client);
                await response.Content.LoadIntoBufferAsync();
                mine.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if ((int)response.StatusCode >= 300)
                {
                    if (Interlocked.Increment(ref errors) <= 3) Console.Error.WriteLine($"{name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
        }));
        double seconds = stop.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        double P(double q) => all[Math.Min(all.Length - 1, (int)Math.Ceiling(q * all.Length) - 1)];
        var result = new Result(all.Length / seconds, P(0.50), P(0.99), errors);
        if (!quiet)
            Console.WriteLine(Invariant($"{name}: {all.Length} requests in {seconds:F1} s = {result.PerSecond:F0} req/s; p50 {result.P50:F2} ms, p99 {result.P99:F2} ms, max {all[^1]:F1} ms; errors {errors}"));
        return result;
    }

    private static HttpClient Client(string baseUrl, string key, int connections) => new(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        BaseAddress = new Uri(baseUrl),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
        Timeout = TimeSpan.FromSeconds(60),
    };

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
