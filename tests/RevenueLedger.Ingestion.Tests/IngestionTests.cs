using System.Net;
using System.Text;
using static RevenueLedger.Tests.Http;

using RevenueLedger.Tests;

namespace RevenueLedger.Ingestion.Tests;

public sealed class IngestionTests : IAsyncLifetime
{
    private ApiHost _api = null!;

    public Task InitializeAsync()
    {
        _api = ApiHost.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    private async Task<long> HeadAsync()
    {
        var log = await _api.Ingestion(ApiHost.AuditorKey).GetJsonAsync("/v1/log?limit=1");
        return log.Body.GetProperty("head").GetInt64();
    }

    [Fact]
    public async Task An_accepted_event_is_201_with_its_position_and_the_same_event_again_is_200_with_the_same_position()
    {
        var first = await _api.Writer.PostAsync("/v1/events", Started("acme", eventId: "e-1"));
        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal("e-1", first.Body.GetProperty("eventId").GetString());
        Assert.Equal(1, first.Body.GetProperty("position").GetInt64());

        var again = await _api.Writer.PostAsync("/v1/events", Started("acme", eventId: "e-1"));
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal(1, again.Body.GetProperty("position").GetInt64());

        var next = await _api.Writer.PostAsync("/v1/events", Expanded("acme", "c1", "2024-02-01", "50"));
        Assert.Equal(HttpStatusCode.Created, next.Status);
        Assert.Equal(2, next.Body.GetProperty("position").GetInt64());
        Assert.StartsWith("ev-", next.Body.GetProperty("eventId").GetString(), StringComparison.Ordinal); // assigned by the ledger
        Assert.Equal(2, await HeadAsync());
    }

    [Fact]
    public async Task A_reused_event_id_with_other_content_is_a_409_conflict_and_nothing_is_stored()
    {
        await _api.Writer.PostAsync("/v1/events", Started("acme", eventId: "e-1"));
        var conflict = await _api.Writer.PostAsync("/v1/events", Started("acme", mrr: "101", eventId: "e-1"));
        var problem = conflict.AssertProblem(HttpStatusCode.Conflict, "event-id-conflict");
        Assert.Equal("conflict", problem.GetProperty("outcome").GetString());
        Assert.Equal("e-1", problem.GetProperty("eventId").GetString());
        Assert.Equal(1, await HeadAsync());
    }

    [Theory]
    [InlineData("{\"type\":\"ContractStarted\",", "malformed-json", null)]
    [InlineData("[1,2]", "malformed-json", null)]
    [InlineData("{\"type\":\"ContractRenewed\",\"accountId\":\"a\"}", "unknown-type", "type")]
    [InlineData("{\"type\":\"ContractStarted\",\"accountId\":\"a\",\"contractId\":\"c\",\"effectiveDate\":\"2024-01-01\",\"mrr\":\"1\",\"currency\":\"USD\",\"position\":5}", "unknown-field", "position")]
    [InlineData("{\"type\":\"ContractStarted\",\"accountId\":\"a\",\"contractId\":\"c\",\"effectiveDate\":\"2024-01-01\",\"currency\":\"USD\"}", "missing-field", "mrr")]
    [InlineData("{\"type\":\"ContractStarted\",\"accountId\":\"a\",\"contractId\":\"c\",\"effectiveDate\":\"2024-02-30\",\"mrr\":\"1\",\"currency\":\"USD\"}", "invalid-field", "effectiveDate")]
    [InlineData("{\"type\":\"ContractStarted\",\"accountId\":\"a\",\"contractId\":\"c\",\"effectiveDate\":\"2024-01-01\",\"mrr\":1e3,\"currency\":\"USD\"}", "invalid-field", "mrr")]
    public async Task Invalid_input_is_a_400_problem_naming_the_field_and_nothing_is_stored(string body, string code, string? field)
    {
        var r = await _api.Writer.PostAsync("/v1/events", body);
        var problem = r.AssertProblem(HttpStatusCode.BadRequest, code);
        if (field is not null) Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Equal(0, await HeadAsync());
    }

    [Theory]
    [InlineData("expand-unstarted", "contract-not-started")]
    [InlineData("start-twice", "contract-already-started")]
    [InlineData("contract-too-much", "contraction-exceeds-mrr")]
    [InlineData("other-currency", "currency-mismatch")]
    [InlineData("expand-churned", "contract-churned")]
    [InlineData("reverse-missing", "reversal-target-not-found")]
    [InlineData("reverse-twice", "already-reversed")]
    public async Task A_rule_violation_is_a_422_problem_naming_the_rule_and_nothing_is_stored(string violation, string rule)
    {
        await _api.Writer.PostAsync("/v1/events", Started("acme", eventId: "start"));
        await _api.Writer.PostAsync("/v1/events", Started("gone", eventId: "gone-start"));
        await _api.Writer.PostAsync("/v1/events", Churned("gone", "c1", "2024-03-01", "cost"));
        await _api.Writer.PostAsync("/v1/events", Expanded("acme", "c1", "2024-02-01", "10", eventId: "exp"));
        await _api.Writer.PostAsync("/v1/events", Reversed("acme", "exp", eventId: "rev"));
        long head = await HeadAsync();
        Assert.Equal(5, head);
        var body = violation switch
        {
            "expand-unstarted" => Expanded("acme", "c9", "2024-02-01", "10"),
            "start-twice" => Started("acme", date: "2024-05-01"),
            "contract-too-much" => """{"type":"ContractContracted","accountId":"acme","contractId":"c1","effectiveDate":"2024-02-01","amount":"150","currency":"USD"}""",
            "other-currency" => """{"type":"ContractExpanded","accountId":"acme","contractId":"c1","effectiveDate":"2024-02-01","amount":"5","currency":"EUR"}""",
            "expand-churned" => Expanded("gone", "c1", "2024-04-01", "10"),
            "reverse-missing" => Reversed("acme", "no-such-event"),
            _ => Reversed("acme", "exp"),
        };
        var problem = (await _api.Writer.PostAsync("/v1/events", body)).AssertProblem(HttpStatusCode.UnprocessableEntity, rule);
        Assert.Equal("rejected", problem.GetProperty("outcome").GetString());
        Assert.Equal(rule, problem.GetProperty("rule").GetString());
        Assert.Equal(head, await HeadAsync());
    }

    [Fact]
    public async Task Rates_go_in_single_and_in_batches_and_an_account_keeps_its_currency()
    {
        const string Rate = """{"type":"FxRateRecorded","eventId":"fx-1","currency":"EUR","quoteCurrency":"USD","effectiveDate":"2024-01-01","rate":"1.1"}""";
        Assert.Equal(HttpStatusCode.Created, (await _api.Writer.PostAsync("/v1/events", Rate)).Status);
        var batch = await _api.Writer.PostAsync("/v1/events/batch", Batch(Rate,
            """{"type":"FxRateRecorded","eventId":"fx-2","currency":"GBP","quoteCurrency":"USD","effectiveDate":"2024-01-01","rate":"1.27"}""",
            """{"type":"ContractStarted","eventId":"eu-1","accountId":"eu","contractId":"c1","effectiveDate":"2024-01-01","mrr":"100","currency":"EUR"}"""));
        Assert.Equal(HttpStatusCode.Created, batch.Status);
        Assert.Equal(["duplicate", "accepted", "accepted"], batch.Body.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("outcome").GetString()));

        var second = await _api.Writer.PostAsync("/v1/events",
            """{"type":"ContractStarted","eventId":"eu-2","accountId":"eu","contractId":"c2","effectiveDate":"2024-02-01","mrr":"50","currency":"USD"}""");
        Assert.Contains("is in EUR", second.AssertProblem((HttpStatusCode)422, "account-currency-mismatch").GetProperty("detail").GetString(), StringComparison.Ordinal);
        var withAccount = await _api.Writer.PostAsync("/v1/events",
            """{"type":"FxRateRecorded","accountId":"eu","currency":"EUR","quoteCurrency":"USD","effectiveDate":"2024-02-01","rate":"1.1"}""");
        Assert.Equal("accountId", withAccount.AssertProblem(HttpStatusCode.BadRequest, "unknown-field").GetProperty("field").GetString());
        Assert.Equal(3, await HeadAsync());
    }

    [Fact]
    public async Task A_batch_is_stored_whole_with_its_first_and_last_positions()
    {
        await _api.Writer.PostAsync("/v1/events", Started("acme", eventId: "e-1"));
        var r = await _api.Writer.PostAsync("/v1/events/batch", Batch(Started("acme", eventId: "e-1"), Started("beta", eventId: "b-1"), Owner("beta", "ana", "2024-01-01")));
        Assert.Equal(HttpStatusCode.Created, r.Status);
        Assert.Equal(2, r.Body.GetProperty("firstPosition").GetInt64());
        Assert.Equal(3, r.Body.GetProperty("lastPosition").GetInt64());
        Assert.Equal(2, r.Body.GetProperty("accepted").GetInt32());
        Assert.Equal(1, r.Body.GetProperty("duplicates").GetInt32());
        var items = r.Body.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["duplicate", "accepted", "accepted"], items.Select(i => i.GetProperty("outcome").GetString()));
        Assert.Equal([1L, 2L, 3L], items.Select(i => i.GetProperty("position").GetInt64()));

        var repeat = await _api.Writer.PostAsync("/v1/events/batch", Batch(Started("acme", eventId: "e-1"), Started("beta", eventId: "b-1")));
        Assert.Equal(HttpStatusCode.OK, repeat.Status);
        Assert.Equal(0, repeat.Body.GetProperty("accepted").GetInt32());
        Assert.Equal(3, await HeadAsync());
    }

    [Fact]
    public async Task Batches_sent_at_once_are_answered_each_on_its_own_whatever_the_others_in_their_group()
    {
        // Concurrent requests share group commits; a refused batch (whose first item alone would be accepted) must not
        // fail the others of its group, nor leave their events stored and unanswered.
        var requests = Enumerable.Range(0, 24).Select(i => i % 2 == 0
            ? _api.Writer.PostAsync("/v1/events/batch", Batch(Started($"ok-{i}", eventId: $"ok-{i}"), Started($"ok-{i}-b", eventId: $"ok-{i}-b")))
            : _api.Writer.PostAsync("/v1/events/batch", Batch(Started($"bad-{i}"), Expanded($"bad-{i}", "c9", "2024-02-01", "10"))));
        var answers = await Task.WhenAll(requests);
        for (int i = 0; i < answers.Length; i++)
        {
            if (i % 2 == 0) Assert.Equal(HttpStatusCode.Created, answers[i].Status);
            else Assert.Equal(1, answers[i].AssertProblem(HttpStatusCode.UnprocessableEntity, "contract-not-started").GetProperty("index").GetInt32());
        }
        Assert.Equal(24, await HeadAsync());
    }

    [Fact]
    public async Task A_batch_with_one_refused_item_stores_nothing_and_names_the_item_and_rule()
    {
        var rejected = await _api.Writer.PostAsync("/v1/events/batch", Batch(Started("acme"), Expanded("acme", "c1", "2024-02-01", "10"), Expanded("acme", "c2", "2024-02-01", "10")));
        var problem = rejected.AssertProblem(HttpStatusCode.UnprocessableEntity, "contract-not-started");
        Assert.Equal(2, problem.GetProperty("index").GetInt32());
        Assert.Equal("contract-not-started", problem.GetProperty("rule").GetString());

        var invalid = await _api.Writer.PostAsync("/v1/events/batch", Batch(Started("acme"), """{"type":"ContractStarted","accountId":"x"}"""));
        Assert.Equal(1, invalid.AssertProblem(HttpStatusCode.BadRequest, "missing-field").GetProperty("index").GetInt32());

        var conflict = await _api.Writer.PostAsync("/v1/events/batch", Batch(Started("acme", eventId: "same"), Started("beta", eventId: "same")));
        Assert.Equal(1, conflict.AssertProblem(HttpStatusCode.Conflict, "event-id-conflict").GetProperty("index").GetInt32());
        Assert.Equal(0, await HeadAsync());
    }

    [Fact]
    public async Task Batch_shape_and_size_limits_are_400_and_a_body_over_10_MiB_is_413()
    {
        (await _api.Writer.PostAsync("/v1/events/batch", "[]")).AssertProblem(HttpStatusCode.BadRequest, "invalid-batch");
        (await _api.Writer.PostAsync("/v1/events/batch", "{\"events\":[]}")).AssertProblem(HttpStatusCode.BadRequest, "invalid-batch");
        (await _api.Writer.PostAsync("/v1/events/batch", "{\"events\":[], \"more\":1}")).AssertProblem(HttpStatusCode.BadRequest, "invalid-batch");
        (await _api.Writer.PostAsync("/v1/events/batch", "{\"events\":[")).AssertProblem(HttpStatusCode.BadRequest, "malformed-json");
        var tooMany = Batch(Enumerable.Range(0, 10_001).Select(i => Started($"a{i}")).ToArray());
        Assert.True(Encoding.UTF8.GetByteCount(tooMany) < 10 * 1024 * 1024);
        (await _api.Writer.PostAsync("/v1/events/batch", tooMany)).AssertProblem(HttpStatusCode.BadRequest, "batch-too-large");
        var huge = "{\"events\":[\"" + new string('x', 10 * 1024 * 1024) + "\"]}";
        (await _api.Writer.PostAsync("/v1/events/batch", huge)).AssertProblem(HttpStatusCode.RequestEntityTooLarge, "body-too-large");
        (await _api.Writer.PostAsync("/v1/events", huge)).AssertProblem(HttpStatusCode.RequestEntityTooLarge, "body-too-large");
        Assert.Equal(0, await HeadAsync());

        var exactlyMax = await _api.Writer.PostAsync("/v1/events/batch", Batch(Enumerable.Range(0, 10_000).Select(i => Started($"a{i}")).ToArray()));
        Assert.Equal(HttpStatusCode.Created, exactlyMax.Status);
        Assert.Equal(10_000, await HeadAsync());
    }

    [Fact]
    public async Task The_log_and_an_account_stream_show_position_time_hash_and_reversal()
    {
        await _api.Writer.PostAsync("/v1/events", Started("acme", eventId: "s"));
        await _api.Writer.PostAsync("/v1/events", Expanded("acme", "c1", "2024-02-01", "10", eventId: "x"));
        await _api.Writer.PostAsync("/v1/events", Started("beta", eventId: "b"));
        await _api.Writer.PostAsync("/v1/events", Reversed("acme", "x", eventId: "r"));
        var auditor = _api.Ingestion(ApiHost.AuditorKey);

        var page = await auditor.GetJsonAsync("/v1/log?fromPosition=2&limit=2");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Equal(4, page.Body.GetProperty("head").GetInt64());
        Assert.Equal(4, page.Body.GetProperty("nextFromPosition").GetInt64());
        var events = page.Body.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal([2L, 3L], events.Select(e => e.GetProperty("position").GetInt64()));
        Assert.True(events[0].GetProperty("reversed").GetBoolean());
        Assert.False(events[1].GetProperty("reversed").GetBoolean());
        Assert.Equal("ContractExpanded", events[0].GetProperty("type").GetString());
        Assert.Equal("V1.ContractExpanded", events[0].GetProperty("storedType").GetString());
        Assert.Equal("10", events[0].GetProperty("event").GetProperty("amount").GetString());
        Assert.Matches("^[0-9a-f]{64}$", events[0].GetProperty("hash").GetString());
        Assert.True(DateTimeOffset.TryParse(events[0].GetProperty("recordedAt").GetString(), out _));

        var stream = await auditor.GetJsonAsync("/v1/accounts/acme/events");
        Assert.Equal(["s", "x", "r"], stream.Body.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("eventId").GetString()));
        Assert.Equal([1L, 2L, 3L], stream.Body.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("streamVersion").GetInt64()));
        Assert.Equal(4, stream.Response.LedgerPosition());

        (await auditor.GetJsonAsync("/v1/accounts/nobody/events")).AssertProblem(HttpStatusCode.NotFound, "not-found");
        var past = await auditor.GetJsonAsync("/v1/log?fromPosition=99");
        Assert.Empty(past.Body.GetProperty("events").EnumerateArray());
        (await auditor.GetJsonAsync("/v1/log?fromPosition=0")).AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
        (await auditor.GetJsonAsync("/v1/log?fromPosition=-3")).AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
        (await auditor.GetJsonAsync("/v1/log?limit=10001")).AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
        (await auditor.GetJsonAsync("/v1/log?limit=abc")).AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
    }

    [Fact]
    public async Task Concurrent_single_submissions_are_all_stored_with_gapless_positions()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => _api.Writer.PostAsync("/v1/events", Started($"acct-{i}"))));
        Assert.All(results, r => Assert.Equal(HttpStatusCode.Created, r.Status));
        Assert.Equal(Enumerable.Range(1, 64).Select(i => (long)i), results.Select(r => r.Body.GetProperty("position").GetInt64()).Order());
    }
}
