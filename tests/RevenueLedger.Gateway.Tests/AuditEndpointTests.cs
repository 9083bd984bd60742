using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using RevenueLedger.Contracts;
using RevenueLedger.EventStore.Audit;
using RevenueLedger.Tests;
using static RevenueLedger.Tests.Http;

namespace RevenueLedger.Gateway.Tests;

/// <summary>GET /v1/audit/digest and the publisher behind it: a signed head every N events, on the bus as well.</summary>
public sealed class DigestEndpointTests : IAsyncLifetime
{
    private readonly string _keys = Directory.CreateTempSubdirectory("ledger-keys-").FullName;
    private ApiHost _api = null!;
    private readonly List<DigestSigned> _published = [];

    public async Task InitializeAsync()
    {
        SigningKey.Create(_keys);
        _api = ApiHost.Start(gatewaySettings: new Dictionary<string, string>
        {
            ["LEDGER_DIGEST_KEY"] = Path.Combine(_keys, "ledger-private.pem"),
            ["LEDGER_DIGEST_EVERY_EVENTS"] = "3",
        });
        // An archiver on the bus: what it hears must be the digests the endpoint serves.
        var bus = _api.GatewayServices.GetRequiredService<IBus>();
        var handle = bus.ConnectReceiveEndpoint("digest-archiver-test", e => e.Handler<DigestSigned>(ctx =>
        {
            lock (_published) _published.Add(ctx.Message);
            return Task.CompletedTask;
        }));
        await handle.Ready;
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        Directory.Delete(_keys, recursive: true);
    }

    private async Task<AuditDigest> DigestAtAsync(long position)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            using var r = await _api.Auditor.GetAsync("/v1/audit/digest");
            if (r.StatusCode == HttpStatusCode.OK)
            {
                var d = AuditDigest.Parse(await r.Content.ReadAsStringAsync(), "GET /v1/audit/digest");
                if (d.Position >= position) return d;
            }
            Assert.True(DateTime.UtcNow < deadline, $"no digest at position {position}: {(int)r.StatusCode}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_digest_is_signed_every_n_events_served_to_auditors_and_published()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await _api.Auditor.GetAsync("/v1/audit/digest")).StatusCode); // nothing stored yet
        await _api.Writer.PostAsync("/v1/events/batch", Batch(Started("acme"), Owner("acme", "ana", "2024-01-01")));
        var first = await DigestAtAsync(2);
        Assert.Equal(2, first.Position);
        await _api.Writer.PostAsync("/v1/events", Expanded("acme", "c1", "2024-02-01", "10"));
        await _api.Writer.PostAsync("/v1/events", Expanded("acme", "c1", "2024-03-01", "10"));
        await Task.Delay(1500);
        Assert.Equal(2, (await DigestAtAsync(2)).Position); // two events since: not yet due
        await _api.Writer.PostAsync("/v1/events", Expanded("acme", "c1", "2024-04-01", "10"));
        var second = await DigestAtAsync(5);
        Assert.Equal(5, second.Position);

        using var key = SigningKey.LoadPublic(Path.Combine(_keys, "ledger-public.pem"));
        Assert.True(second.IsSignedBy(key));
        var log = await _api.Ingestion(ApiHost.AuditorKey).GetJsonAsync("/v1/log");
        Assert.Equal(HttpStatusCode.OK, log.Status);
        var last = log.Body.GetProperty("events").EnumerateArray().Last();
        Assert.Equal(last.GetProperty("hash").GetString(), second.HeadHash);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            lock (_published)
                if (_published.Any(p => p.Position == 5)) break;
            Assert.True(DateTime.UtcNow < deadline, "no DigestSigned for position 5 on the bus");
            await Task.Delay(100);
        }
        lock (_published)
        {
            Assert.Equal([2, 5], _published.Select(p => p.Position).Order());
            Assert.Equal(second.Statement, _published.Single(p => p.Position == 5).Statement);
            Assert.Equal(second.Signature, _published.Single(p => p.Position == 5).Signature);
        }
        Assert.Equal(HttpStatusCode.Forbidden, (await _api.Reader.GetAsync("/v1/audit/digest")).StatusCode);
    }
}

public sealed class DigestOffTests
{
    [Fact]
    public async Task Without_a_key_the_endpoint_says_how_to_turn_digests_on()
    {
        await using var api = ApiHost.Start();
        var r = await api.Auditor.GetJsonAsync("/v1/audit/digest");
        var problem = r.AssertProblem(HttpStatusCode.NotFound, "no-digest");
        Assert.Contains("set LEDGER_DIGEST_KEY", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}

/// <summary>POST /v1/reconcile: the CLI's reconciliation over HTTP, JSON or CSV.</summary>
public sealed class ReconcileEndpointTests : IAsyncLifetime
{
    private ApiHost _api = null!;
    private long _head;

    public async Task InitializeAsync()
    {
        _api = ApiHost.Start();
        var r = await _api.Writer.PostAsync("/v1/events/batch", Batch(
            Started("acme", mrr: "100"), Started("beta", mrr: "200"), Expanded("acme", "c1", "2024-02-10", "50"), Churned("beta", "c1", "2024-03-31", "cost")));
        _head = r.Body.GetProperty("lastPosition").GetInt64();
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    private async Task<HttpResponseMessage> PostAsync(string csv, string query = "", HttpClient? client = null, string accept = "application/json")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/reconcile?{query}") { Content = new StringContent(csv, Encoding.UTF8, "text/csv") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        // The read models first reach the head, so the answer is about every event.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await (client ?? _api.Reader).GetAsync($"/v1/nrr?from=2024-01-01&to=2024-02-01&minPosition={_head}")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(100);
        }
        return await (client ?? _api.Reader).SendAsync(request);
    }

    [Fact]
    public async Task Matches_and_differences_come_back_with_totals_as_json_and_as_csv()
    {
        // Month ends: acme 100, 150, 150; beta 200, 200, then churned on 03-31 (0 at the end of that day).
        const string billing = "accountId,date,mrr,currency\nacme,2024-01-31,100,USD\nacme,2024-02-29,150.00,USD\nacme,2024-03-31,140,USD\nbeta,2024-01-31,200,USD\nghost,2024-01-31,5,USD\n";
        using var r = await PostAsync(billing);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var body = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(_head, body.GetProperty("position").GetInt64());
        Assert.False(body.GetProperty("allMatched").GetBoolean());
        var differences = body.GetProperty("differences").EnumerateArray()
            .Select(d => (d.GetProperty("accountId").GetString(), d.GetProperty("date").GetString(), d.GetProperty("status").GetString(), d.GetProperty("difference").GetString())).ToList();
        Assert.Equal([("ghost", "2024-01-31", "missing-in-ledger", "-5"), ("beta", "2024-02-29", "missing-in-billing", "200"), ("acme", "2024-03-31", "differs", "10")], differences);
        var matched = body.GetProperty("totals").EnumerateArray().Single(t => t.GetProperty("status").GetString() == "matched");
        Assert.Equal((3, "450", "450"), (matched.GetProperty("rows").GetInt64(), matched.GetProperty("ledgerMrr").GetString(), matched.GetProperty("billingMrr").GetString()));

        using var csv = await PostAsync(billing, accept: "text/csv");
        var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("accountId,date,status,ledgerMrr,ledgerCurrency,billingMrr,billingCurrency,difference", lines[0]);
        Assert.Equal("acme,2024-03-31,differs,150,USD,140,USD,10", lines[3]);
    }

    [Fact]
    public async Task A_bad_file_is_a_problem_naming_the_line_and_as_of_needs_an_auditor()
    {
        using var bad = await PostAsync("accountId,date,mrr,currency\nacme,2024-13-01,100,USD\n");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("https://revenueledger.dev/problems/invalid-billing-file", problem.GetProperty("type").GetString());
        Assert.Contains("line 2: date '2024-13-01' is not a date", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using var reader = await PostAsync("accountId,date,mrr,currency\n", "asOfPosition=1");
        Assert.Equal(HttpStatusCode.Forbidden, reader.StatusCode);
        using var auditor = await PostAsync("accountId,date,mrr,currency\nacme,2024-01-31,100,USD\n", "asOfPosition=1", _api.Auditor);
        Assert.Equal(HttpStatusCode.OK, auditor.StatusCode);
        var body = JsonDocument.Parse(await auditor.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(1, body.GetProperty("position").GetInt64());
        Assert.True(body.GetProperty("allMatched").GetBoolean()); // at position 1 only acme's start (100) was known
    }
}
