using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using MassTransit;
using RabbitMQ.Client;
using RevenueLedger.Application;
using RevenueLedger.Contracts;
using RevenueLedger.Domain;
using RevenueLedger.Tests;
using Xunit.Abstractions;

namespace RevenueLedger.EndToEnd.Tests;

/// <summary>
/// The distributed topology as real processes on PostgreSQL and RabbitMQ: a shared scenario submitted half over HTTP
/// and half over the bus; then a run of more than 50,000 events through a projector killed mid-way, a broker away
/// for 30 seconds and a database restart, after which nothing is lost, nothing counts twice and the read models
/// equal a replay of the log.
/// </summary>
public sealed class DistributedTests(ITestOutputHelper output)
{
    [Fact]
    public Task The_worked_example_half_over_http_half_over_rabbitmq_gives_the_expected_reports_and_one_trace() => OnTopologyAsync(ScenarioRunAsync);

    private async Task ScenarioRunAsync(Topology t)
    {
        var lines = File.ReadAllLines(Shared.File("worked-example.jsonl"));
        var client = t.Bus.CreateRequestClient<RecordRevenueEvent>(new Uri($"queue:{Hosting.Queues.Commands}"), RequestTimeout.After(s: 30));
        var outcomes = new List<string>();
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        string? tracedEventId = null;
        for (int i = 0; i < lines.Length; i++)
        {
            if (i % 2 == 0 || !Scenarios.IsJson(lines[i]))
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = Http.Json(lines[i]) };
                request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
                var response = await t.Writer.SendAsync(request);
                var outcome = Scenarios.Outcome(response.StatusCode);
                if (outcome == "accepted") tracedEventId ??= (await Http.BodyAsync(response)).GetProperty("eventId").GetString();
                outcomes.Add(outcome);
                continue;
            }
            using var doc = JsonDocument.Parse(lines[i]);
            var answer = await client.GetResponse<RevenueEventAccepted, RevenueEventRefused>(new RecordRevenueEvent(doc.RootElement.Clone()));
            outcomes.Add(answer.Is(out Response<RevenueEventAccepted>? accepted) ? accepted!.Message.Duplicate ? "duplicate" : "accepted"
                : answer.Is(out Response<RevenueEventRefused>? refused) ? refused!.Message.Outcome
                : throw new Xunit.Sdk.XunitException("unexpected answer"));
        }
        Scenarios.AssertOutcomes("worked-example.outcomes.json", outcomes);
        // The gateway answers with the trace continued, so the whole path is one trace.
        t.Reader.DefaultRequestHeaders.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        await Scenarios.AssertReportsAsync(t.Reader, "worked-example.q1-2024.json", "quarter");
        t.Reader.DefaultRequestHeaders.Remove("traceparent");

        // Exchange rates travel the bus like every event, and the gateway reports in the currency asked for: the
        // worked example's accounts are all in USD, so in EUR its Q1 opening is 4400 × the USD→EUR rate of 2024-01-01.
        long ratePosition = 0;
        int ratesRecorded = 0;
        foreach (var rate in new[] { ("USD", "EUR", "2023-12-01", "0.9"), ("USD", "EUR", "2024-04-01", "0.95") })
        {
            using var fx = JsonDocument.Parse($$"""{"type":"FxRateRecorded","currency":"{{rate.Item1}}","quoteCurrency":"{{rate.Item2}}","effectiveDate":"{{rate.Item3}}","rate":"{{rate.Item4}}"}""");
            var answer = await client.GetResponse<RevenueEventAccepted, RevenueEventRefused>(new RecordRevenueEvent(fx.RootElement.Clone()));
            Assert.True(answer.Is(out Response<RevenueEventAccepted>? recorded) && !recorded!.Message.Duplicate, "a rate over the bus is recorded");
            ratePosition = recorded!.Message.Position;
            ratesRecorded++;
        }
        var inEuro = await t.Reader.GetJsonAsync($"/v1/nrr/windows?window=quarter&from=2024-01-01&to=2024-04-01&currency=EUR&minPosition={ratePosition}");
        var q1 = inEuro.Body.GetProperty("windows")[0];
        Assert.Equal("EUR", q1.GetProperty("currency").GetString());
        Assert.Equal("3960", q1.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("ownerId").GetString() == "*").GetProperty("openingMrr").GetString());

        // Submit → visible in the gateway: the relay of notifications end to end (LedgerAdvanced → projector →
        // ReadModelAdvanced → gateway), measured as a client sees it.
        var latencies = new List<double>();
        for (int i = 0; i < 40; i++)
        {
            var clock = Stopwatch.StartNew();
            var r = await t.Writer.PostAsync("/v1/events", Http.Started($"lat-{i}", date: "2024-05-01"));
            Assert.Equal(HttpStatusCode.Created, r.Status);
            long position = r.Body.GetProperty("position").GetInt64();
            var read = await t.Reader.GetAsync($"/v1/nrr?from=2024-01-01&to=2024-07-01&groupBy=none&minPosition={position}");
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            latencies.Add(clock.Elapsed.TotalMilliseconds);
        }
        latencies.Sort();
        output.WriteLine($"submit-to-visible over {latencies.Count} events: p50 {latencies[latencies.Count / 2]:F1} ms, p99 {latencies[^1]:F1} ms (max of 40)");
        Assert.True(latencies[latencies.Count / 2] < 1000, $"submit-to-visible p50 {latencies[latencies.Count / 2]} ms: notifications should make it well under the 10 s poll");

        // The trace: the POST, the append, the relay's publish and the projection (and the gateway read) in one trace.
        Assert.NotNull(tracedEventId);
        List<JsonElement> spans = [];
        var deadline = Stopwatch.StartNew();
        string[] needed = ["ledger-ingestion/Microsoft.AspNetCore", "ledger-ingestion/ledger.append", "ledger-ingestion/ledger.relay", "ledger-projector/ledger.project", "ledger-gateway/Microsoft.AspNetCore"];
        string[] Seen() => spans.Where(s => s.GetProperty("traceId").GetString() == traceId)
            .SelectMany(s => new[] { $"{s.GetProperty("service").GetString()?.Replace("-1", "", StringComparison.Ordinal).Replace("-2", "", StringComparison.Ordinal)}/{s.GetProperty("source").GetString()}", $"{s.GetProperty("service").GetString()?.Replace("-1", "", StringComparison.Ordinal).Replace("-2", "", StringComparison.Ordinal)}/{s.GetProperty("name").GetString()}" })
            .Distinct().ToArray();
        while (needed.Except(Seen()).Any() && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(500);
            spans = t.Spans();
        }
        Assert.True(!needed.Except(Seen()).Any(), $"trace {traceId} lacks {string.Join(", ", needed.Except(Seen()))}; has {string.Join(", ", Seen())}");
        output.WriteLine($"trace {traceId}: {string.Join(", ", Seen())}");

        // The metrics, as exported each second: appends counted and timed, lags reported, gateway latency measured.
        Dictionary<string, double> metrics = [];
        bool Has(string key) => metrics.Keys.Any(k => k.Replace("-1/", "/", StringComparison.Ordinal).Replace("-2/", "/", StringComparison.Ordinal) == key);
        string[] expectedMetrics = ["ledger-ingestion/ledger.events.appended", "ledger-ingestion/ledger.append.duration", "ledger-ingestion/ledger.relay.lag",
            "ledger-projector/ledger.projection.lag", "ledger-projector/ledger.projection.lag.time", "ledger-gateway/http.server.request.duration"];
        // Both ingestion instances take bus messages; together they count every accepted event (exported each second).
        double Total(string metric) => metrics.Where(m => m.Key.StartsWith("ledger-ingestion", StringComparison.Ordinal) && m.Key.EndsWith("/" + metric, StringComparison.Ordinal)).Sum(m => m.Value);
        int acceptedEvents = outcomes.Count(o => o == "accepted") + ratesRecorded + latencies.Count;
        bool Complete() => expectedMetrics.All(Has) && Total("ledger.events.appended") >= acceptedEvents && Total("ledger.relay.lag") == 0;
        for (deadline.Restart(); !Complete() && deadline.Elapsed < TimeSpan.FromSeconds(15); await Task.Delay(500)) metrics = t.Metrics();
        Assert.True(expectedMetrics.All(Has), $"metrics missing: {string.Join(", ", expectedMetrics.Where(m => !Has(m)))}; have {string.Join(", ", metrics.Keys)}");
        Assert.Equal(acceptedEvents, Total("ledger.events.appended"));
        Assert.Equal(0, Total("ledger.relay.lag"));
        output.WriteLine("metrics: " + string.Join(", ", metrics.Where(m => m.Key.Contains("ledger.", StringComparison.Ordinal)).Select(m => $"{m.Key}={m.Value}")));
    }

    [Fact]
    public Task Fifty_thousand_events_through_a_killed_projector_a_broker_outage_and_a_database_restart_lose_nothing() => OnTopologyAsync(FaultRunAsync);

    /// <summary>/health/ready's status code and its PostgreSQL and RabbitMQ checks.</summary>
    private static async Task<(HttpStatusCode Status, string? Postgres, string? Broker)> ReadinessAsync(HttpClient client)
    {
        var (status, body, _) = await client.GetJsonAsync("/health/ready");
        var checks = body.GetProperty("checks");
        return (status, checks.GetProperty("postgresql").GetProperty("status").GetString(), checks.GetProperty("rabbitmq").GetProperty("status").GetString());
    }

    private async Task FaultRunAsync(Topology t)
    {
        var events = BookGenerator.Generate(new BookOptions(Accounts: 4000, Owners: 12, Start: new DateOnly(2022, 1, 1), Months: 36, Seed: 23, Intensity: 5.2))
            .Select(WireFormat.ToWireJson).ToList();
        Assert.True(events.Count >= 50_000, $"the book has {events.Count} events");
        var (connection, channel) = await t.OpenChannelAsync();
        await using var _ = connection;
        await using var __ = channel;
        // A consumer of the integration events, as another system would bind one.
        await channel.ExchangeDeclareAsync("RevenueLedger.Contracts:RevenueEventRecorded", ExchangeType.Fanout, durable: true);
        await channel.QueueDeclareAsync("e2e-recorded", durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync("e2e-recorded", "RevenueLedger.Contracts:RevenueEventRecorded", "");

        // Refusals of plain-JSON messages come back published.
        await channel.ExchangeDeclareAsync("RevenueLedger.Contracts:RevenueEventRefused", ExchangeType.Fanout, durable: true);
        await channel.QueueDeclareAsync("e2e-refused", durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync("e2e-refused", "RevenueLedger.Contracts:RevenueEventRefused", "");
        var refused = new HashSet<string>();
        async Task<HashSet<string>> RefusedAsync()
        {
            while (await channel.BasicGetAsync("e2e-refused", autoAck: true) is { } m)
            {
                using var envelope = JsonDocument.Parse(m.Body);
                if (envelope.RootElement.GetProperty("message").GetProperty("eventId").GetString() is { } id) refused.Add(id);
            }
            return refused;
        }

        var accepted = new Dictionary<string, long>(); // eventId → position, from every answer
        var sender = new Submitter(t, channel, accepted, RefusedAsync);
        int third = events.Count / 3;

        // 1. HTTP batches, bus batches and plain JSON messages; the active projector is killed mid-way.
        var (active, standby) = await t.ProjectorRolesAsync();
        // Two ingestion instances: both take submissions, exactly one relays.
        await t.Ingestion.WaitForOutputAsync("relay:", TimeSpan.FromSeconds(30));
        await t.Ingestion2.WaitForOutputAsync("relay:", TimeSpan.FromSeconds(30));
        Assert.Equal(1, new[] { t.Ingestion, t.Ingestion2 }.Count(i => i.Output.Contains("relay: active", StringComparison.Ordinal)));
        await sender.SubmitAsync(events[..(third / 2)], useBus: true);
        await active.KillAsync();
        var takeover = Stopwatch.StartNew();
        await standby.WaitForOutputAsync("projector: active", TimeSpan.FromSeconds(15));
        output.WriteLine($"standby projector took over {takeover.Elapsed.TotalSeconds:F1} s after the kill");
        await sender.SubmitAsync(events[(third / 2)..third], useBus: true);

        // 2. RabbitMQ away for 30 s: HTTP keeps accepting.
        await Servers.StopRabbitMqAsync();
        var outage = Stopwatch.StartNew();
        var submitting = TimeSpan.Zero;
        try
        {
            var during = events[third..(2 * third)];
            for (int i = 0; i < 6; i++)
            {
                await sender.SubmitAsync(during[(i * during.Count / 6)..((i + 1) * during.Count / 6)], useBus: false);
                // Readiness names the broker as degraded and stays 200: HTTP ingestion works without it.
                if (i == 1) Assert.Equal((HttpStatusCode.OK, "Healthy", "Degraded"), await ReadinessAsync(t.Writer));
                while (outage.Elapsed < TimeSpan.FromSeconds(5 * (i + 1))) await Task.Delay(100);
            }
            submitting = outage.Elapsed;
        }
        finally
        {
            await Servers.StartRabbitMqAsync();
        }
        // This test's own AMQP channel and bus recover by themselves (automatic recovery), as the services' do.
        for (var recovery = Stopwatch.StartNew(); !channel.IsOpen || t.BusHealth() != BusHealthStatus.Healthy; await Task.Delay(200))
            Assert.True(recovery.Elapsed < TimeSpan.FromSeconds(60), "the test's AMQP channel or bus did not recover");
        Assert.True(submitting >= TimeSpan.FromSeconds(30), "the broker was away for the whole 30 s of submissions");
        for (var recovery = Stopwatch.StartNew(); await ReadinessAsync(t.Writer) != (HttpStatusCode.OK, "Healthy", "Healthy"); await Task.Delay(500))
            Assert.True(recovery.Elapsed < TimeSpan.FromSeconds(30), $"readiness after the broker's return: {await ReadinessAsync(t.Writer)}");
        output.WriteLine($"broker away {outage.Elapsed.TotalSeconds:F0} s (HTTP submissions for {submitting.TotalSeconds:F0} s of it, every one answered; then the broker's own restart and recovery)");

        // 3. PostgreSQL down for 5 s: HTTP answers 503 with Retry-After and stores nothing; the same batch sent over the
        //    bus is retried by the service with backoff while the database is away, and stored once it is back.
        var downBatch = events[(2 * third)..(2 * third + 500)];
        Task<Response<RevenueEventsAccepted, RevenueEventRefused>> busWhileDown;
        await Servers.PostgresAsync("stop");
        try
        {
            var unavailable = await t.Writer.PostAsync("/v1/events/batch", Http.Batch([.. downBatch]));
            Assert.True(unavailable.Status == HttpStatusCode.ServiceUnavailable, $"{unavailable.Status} {unavailable.Body}");
            Assert.NotNull(unavailable.Response.Headers.RetryAfter);
            // The database away is not ready (503), and the answer says which dependency.
            Assert.Equal((HttpStatusCode.ServiceUnavailable, "Unhealthy", "Healthy"), await ReadinessAsync(t.Writer));
            var client = t.Bus.CreateRequestClient<RecordRevenueEvents>(new Uri($"queue:{Hosting.Queues.Commands}"), RequestTimeout.After(s: 120));
            busWhileDown = client.GetResponse<RevenueEventsAccepted, RevenueEventRefused>(
                new RecordRevenueEvents(downBatch.Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList()));
            await Task.Delay(TimeSpan.FromSeconds(5));
            Assert.False(busWhileDown.IsCompleted, "no answer while the database is down");
        }
        finally
        {
            await Servers.PostgresAsync("start");
        }
        var afterOutage = await busWhileDown;
        Assert.True(afterOutage.Is(out Response<RevenueEventsAccepted>? storedLater), "the batch was stored once the database was back");
        foreach (var item in storedLater!.Message.Items!) accepted[item.EventId] = item.Position;
        Assert.Equal(downBatch.Count, storedLater.Message.Accepted);
        output.WriteLine("database stopped 5 s: HTTP answered 503 + Retry-After; the bus batch was retried and stored after it came back");

        // 4. PostgreSQL restarts under load; clients retry what was refused with 503, the services recover alone.
        var phase3 = Stopwatch.StartNew();
        var restart = Task.Run(async () =>
        {
            await Task.Delay(300);
            await Servers.PostgresAsync("restart");
            return phase3.Elapsed;
        });
        await sender.SubmitAsync(events[(2 * third + 500)..], useBus: true, retryUnavailable: true);
        var restarted = await restart;
        output.WriteLine($"database restarted {restarted.TotalSeconds:F1} s into a {phase3.Elapsed.TotalSeconds:F1} s stretch of submissions");
        Assert.True(restarted < phase3.Elapsed, "the restart happened while events were being submitted");
        await sender.SubmitAsync(events[^200..], useBus: false, retryUnavailable: true); // repeats: all duplicates

        // Everything answered is in the log exactly once, at the position it was answered with.
        var log = await ReadLogAsync(t);
        Assert.Equal(log.Count, log.Values.Distinct().Count());
        foreach (var (eventId, position) in accepted)
            Assert.True(log.TryGetValue(eventId, out var stored) && stored == position, $"{eventId} answered at {position}, stored at {(log.TryGetValue(eventId, out var s) ? s : null)}");
        // And nothing is in the log that no answer (or plain-JSON lookup) accounted for: nothing stored twice over.
        Assert.Equal(accepted.Count, log.Count);
        long head = log.Values.Max();
        Assert.Equal(Enumerable.Range(1, (int)head).Select(i => (long)i), log.Values.Order());
        output.WriteLine($"{events.Count} submissions, {log.Count} events stored; {sender.Summary}");

        // The read models (via the surviving projector) equal a replay of the log, for every quarter and owner.
        foreach (var report in new[] { "nrr", "bridge" })
        {
            var path = $"/v1/{report}/windows?window=quarter&from=2022-01-01&to=2025-01-01&groupBy=owner";
            var projected = await ReadAsync(t.Reader, $"{path}&minPosition={head}");
            var replayed = await ReadAsync(t.Auditor, $"{path}&asOfPosition={head}");
            Assert.Equal(head, projected.GetProperty("position").GetInt64());
            Assert.Equal(replayed.GetProperty("windows").ToString(), projected.GetProperty("windows").ToString());
        }
        var churn = "/v1/churn-reasons?from=2022-01-01&to=2025-01-01";
        Assert.Equal((await ReadAsync(t.Auditor, $"{churn}&asOfPosition={head}")).GetProperty("rows").ToString(),
            (await ReadAsync(t.Reader, $"{churn}&minPosition={head}")).GetProperty("rows").ToString());

        // The relay caught up after the outage: every position published at least once, and a consumer that drops
        // repeats by position sees each event once.
        var published = new Dictionary<long, string>();
        var clock = Stopwatch.StartNew();
        while (published.Count < head && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            var message = await channel.BasicGetAsync("e2e-recorded", autoAck: true);
            if (message is null)
            {
                await Task.Delay(200);
                continue;
            }
            using var envelope = JsonDocument.Parse(message.Body);
            var m = envelope.RootElement.GetProperty("message");
            long position = m.GetProperty("position").GetInt64();
            var eventId = m.GetProperty("eventId").GetString()!;
            if (published.TryGetValue(position, out var seen)) Assert.Equal(seen, eventId);
            published[position] = eventId;
        }
        Assert.Equal(head, published.Count);
        foreach (var (eventId, position) in log) Assert.Equal(eventId, published[position]);

        // A poison message (not JSON at all) is not retried forever: it ends in the error queue, and nothing is stored.
        await channel.BasicPublishAsync("", Hosting.Queues.RawJson, mandatory: false, new BasicProperties { ContentType = "application/json" }, Encoding.UTF8.GetBytes("not json {"));
        var errorQueue = Hosting.Queues.RawJson + "_error";
        clock.Restart();
        async Task<uint> ErrorCountAsync()
        {
            // A passive declare of a queue that does not exist (yet) closes its channel: one channel per look.
            try
            {
                await using var look = await connection.CreateChannelAsync();
                return (await look.QueueDeclarePassiveAsync(errorQueue)).MessageCount;
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                return 0;
            }
        }
        uint poisoned = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(30) && (poisoned = await ErrorCountAsync()) == 0) await Task.Delay(200);
        Assert.Equal(1u, poisoned);
        Assert.Equal(head, (await ReadAsync(t.LogReader, "/v1/log?limit=1")).GetProperty("head").GetInt64());
    }

    /// <summary>Runs a test on a fresh topology; when it fails, the processes' last output goes with the failure.</summary>
    private async Task OnTopologyAsync(Func<Topology, Task> test)
    {
        await using var t = await Topology.StartAsync();
        try
        {
            await test(t);
        }
        catch
        {
            output.WriteLine(t.Diagnostics());
            throw;
        }
    }

    /// <summary>
    /// A read as a well-behaved client makes it: a 503 (the store unavailable, as on the first use of a pooled
    /// connection that a database restart broke) is retried after its Retry-After, a few times.
    /// </summary>
    private static async Task<JsonElement> ReadAsync(HttpClient client, string path)
    {
        for (var clock = Stopwatch.StartNew(); ; )
        {
            var r = await client.GetJsonAsync(path);
            if (r.Status == HttpStatusCode.ServiceUnavailable && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                Assert.NotNull(r.Response.Headers.RetryAfter);
                await Task.Delay(500);
                continue;
            }
            Assert.True(r.Status == HttpStatusCode.OK, $"{path}: {r.Status} {r.Body}");
            return r.Body;
        }
    }

    /// <summary>The log from <paramref name="from"/> on, as the auditor reads it: eventId → position.</summary>
    private static async Task<Dictionary<string, long>> ReadLogAsync(Topology t, long from = 1)
    {
        var log = new Dictionary<string, long>();
        while (true)
        {
            var page = await ReadAsync(t.LogReader, $"/v1/log?fromPosition={from}&limit=10000");
            foreach (var e in page.GetProperty("events").EnumerateArray()) log.Add(e.GetProperty("eventId").GetString()!, e.GetProperty("position").GetInt64());
            if (page.GetProperty("nextFromPosition") is { ValueKind: JsonValueKind.Number } next) from = next.GetInt64();
            else return log;
        }
    }

    private static string IdOf(string json) => JsonDocument.Parse(json).RootElement.GetProperty("eventId").GetString()!;

    /// <summary>
    /// Submits events in order, alternating HTTP batches, MassTransit batch messages and plain-JSON messages, and
    /// records what every answer said (eventId → position). Plain JSON has no answer: those events are looked up in the
    /// log, or among the published refusals.
    /// </summary>
    private sealed class Submitter(Topology t, IChannel channel, Dictionary<string, long> accepted, Func<Task<HashSet<string>>> refusedIds)
    {
        private const int Batch = 500;
        private readonly IRequestClient<RecordRevenueEvents> _client =
            t.Bus.CreateRequestClient<RecordRevenueEvents>(new Uri($"queue:{Hosting.Queues.Commands}"), RequestTimeout.After(s: 120));
        private int _http, _bus, _raw, _retried, _posts, _resent;

        public string Summary => $"{_http} HTTP batches, {_bus} bus batches ({_resent} asked again after no answer), {_raw} plain-JSON messages, {_retried} HTTP retries after 503";

        public async Task SubmitAsync(List<string> events, bool useBus, bool retryUnavailable = false)
        {
            for (int i = 0, n = 0; i < events.Count; i += Batch, n++)
            {
                var chunk = events[i..Math.Min(events.Count, i + Batch)];
                if (useBus && n % 3 == 1) await BusAsync(chunk, retryUnavailable);
                else if (useBus && n % 3 == 2) await RawAsync(chunk);
                else await HttpAsync(chunk, retryUnavailable);
            }
        }

        /// <summary>A POST; while the database restarts (503, or the connection refused) it is retried when allowed.</summary>
        private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string json, bool retryUnavailable)
        {
            // Two ingestion instances take turns, as behind a load balancer.
            var writer = ++_posts % 2 == 0 ? t.Writer : t.Writer2;
            while (true)
            {
                try
                {
                    var r = await writer.PostAsync(path, json);
                    if (r.Status != HttpStatusCode.ServiceUnavailable || !retryUnavailable) return (r.Status, r.Body);
                }
                catch (HttpRequestException) when (retryUnavailable)
                {
                    // the service is fine; this only guards the client against a dropped connection
                }
                _retried++;
                await Task.Delay(500);
            }
        }

        private async Task HttpAsync(List<string> chunk, bool retryUnavailable)
        {
            _http++;
            var (status, body) = await PostAsync("/v1/events/batch", Http.Batch([.. chunk]), retryUnavailable);
            if (status is HttpStatusCode.Created or HttpStatusCode.OK)
            {
                foreach (var item in body.GetProperty("items").EnumerateArray())
                    Record(item.GetProperty("eventId").GetString()!, item.GetProperty("position").GetInt64());
                return;
            }
            // A refused item (the generated book has some by design): the others go one by one.
            Assert.True((int)status is 400 or 409 or 422, $"batch answered {status}: {body}");
            foreach (var e in chunk)
            {
                var single = await PostAsync("/v1/events", e, retryUnavailable);
                if (single.Status is HttpStatusCode.Created or HttpStatusCode.OK)
                    Record(single.Body.GetProperty("eventId").GetString()!, single.Body.GetProperty("position").GetInt64());
                else Assert.True((int)single.Status is 400 or 409 or 422, $"single answered {single.Status}: {single.Body}");
            }
        }

        private async Task BusAsync(List<string> chunk, bool retryUnavailable)
        {
            _bus++;
            long before = (await ReadAsync(t.LogReader, "/v1/log?limit=1")).GetProperty("head").GetInt64();
            var message = new RecordRevenueEvents(chunk.Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList());
            // A store outage is retried by the service itself (the message waits on the broker), so an answer comes;
            // an answer lost with a broker restart is asked for again (the events carry ids: a repeat is a duplicate).
            Response<RevenueEventsAccepted, RevenueEventRefused>? answer = null;
            for (int attempt = 1; answer is null; attempt++)
            {
                try
                {
                    answer = await _client.GetResponse<RevenueEventsAccepted, RevenueEventRefused>(message, timeout: RequestTimeout.After(s: 60));
                }
                catch (RequestTimeoutException) when (attempt < 3)
                {
                    _resent++;
                }
            }
            if (answer.Value.Is(out Response<RevenueEventsAccepted>? ok))
            {
                // Each item's outcome and stored position, as over HTTP; a batch asked again answers with duplicates
                // at the positions the first delivery stored.
                var items = ok!.Message.Items!;
                Assert.Equal(chunk.Count, items.Count);
                for (int i = 0; i < items.Count; i++)
                {
                    Assert.Equal(IdOf(chunk[i]), items[i].EventId);
                    Record(items[i].EventId, items[i].Position);
                }
                Assert.True(ok.Message.Accepted == 0 || ok.Message.FirstPosition > before, "new events stored after the head seen before sending");
                return;
            }
            Assert.True(answer.Value.Is(out Response<RevenueEventRefused>? refused) && refused!.Message.Index is not null, "a refused batch names its item");
            await HttpAsync(chunk, retryUnavailable);
        }

        private async Task RawAsync(List<string> chunk)
        {
            long head = (await ReadAsync(t.LogReader, "/v1/log?limit=1")).GetProperty("head").GetInt64();
            foreach (var e in chunk)
            {
                var properties = new BasicProperties { ContentType = "application/json", MessageId = Guid.NewGuid().ToString(), Persistent = true };
                await channel.BasicPublishAsync("", Hosting.Queues.RawJson, mandatory: false, properties, Encoding.UTF8.GetBytes(e));
                _raw++;
            }
            // Every message ends stored or refused (published); only then the next chunk, as a billing system's
            // stream would go. Stored ones are recorded like answered ones.
            var ids = chunk.Select(IdOf).ToHashSet();
            var clock = Stopwatch.StartNew();
            while (true)
            {
                var stored = await ReadLogAsync(t, head + 1);
                var refused = await refusedIds();
                var open = ids.Where(id => !stored.ContainsKey(id) && !refused.Contains(id)).ToList();
                if (open.Count == 0)
                {
                    foreach (var id in ids.Where(stored.ContainsKey)) Record(id, stored[id]);
                    return;
                }
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"{open.Count} plain-JSON messages neither stored nor refused, e.g. {open[0]}");
                await Task.Delay(250);
            }
        }

        private void Record(string eventId, long position)
        {
            if (accepted.TryGetValue(eventId, out var known)) Assert.Equal(known, position);
            accepted[eventId] = position;
        }
    }
}
