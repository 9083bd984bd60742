using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using static RevenueLedger.Tests.Http;

using RevenueLedger.Tests;

namespace RevenueLedger.Gateway.Tests;

/// <summary>
/// Two owners, one quarter of movement: ana's acme expands by 50 in Q2 2024, bob's beta (200) churns for cost.
/// Q2: opening 300, expansion 50, churn 200, closing 150 → NRR 150/300 = 0.5, GRR 100/300 = 1/3.
/// </summary>
public sealed class GatewayTests : IAsyncLifetime
{
    private ApiHost _api = null!;
    private long _head;
    private long _beforeChurn;

    public async Task InitializeAsync()
    {
        _api = ApiHost.Start();
        var r = await _api.Writer.PostAsync("/v1/events/batch", Batch(
            Started("acme", mrr: "100"), Owner("acme", "ana", "2024-01-01"),
            Started("beta", mrr: "200"), Owner("beta", "bob", "2024-01-01"),
            Expanded("acme", "c1", "2024-04-10", "50")));
        _beforeChurn = r.Body.GetProperty("lastPosition").GetInt64();
        var churn = await _api.Writer.PostAsync("/v1/events", Churned("beta", "c1", "2024-05-01", "cost"));
        _head = churn.Body.GetProperty("position").GetInt64();
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    private string Min => $"minPosition={_head}";

    private static JsonElement Row(JsonElement rows, string? owner) =>
        rows.EnumerateArray().Single(r => r.GetProperty("ownerId").GetString() == owner);

    [Fact]
    public async Task Nrr_windows_give_exact_money_strings_and_ratio_numbers_with_at_least_six_decimals()
    {
        var r = await _api.Reader.GetJsonAsync($"/v1/nrr/windows?window=quarter&from=2024-01-01&to=2024-10-01&groupBy=owner&{Min}");
        Assert.Equal(HttpStatusCode.OK, r.Status);
        Assert.Equal(_head, r.Response.LedgerPosition());
        Assert.Equal(_head, r.Body.GetProperty("position").GetInt64());
        var windows = r.Body.GetProperty("windows").EnumerateArray().ToList();
        Assert.Equal(["2024-01-01", "2024-04-01", "2024-07-01"], windows.Select(w => w.GetProperty("from").GetString()));
        var q2 = windows[1].GetProperty("rows");
        var company = Row(q2, "*");
        Assert.Equal("300", company.GetProperty("openingMrr").GetString());
        Assert.Equal("50", company.GetProperty("expansion").GetString());
        Assert.Equal("200", company.GetProperty("churn").GetString());
        Assert.Equal("150", company.GetProperty("closingMrr").GetString());
        Assert.Equal(2, company.GetProperty("accountsOpening").GetInt32());
        Assert.Equal(1, company.GetProperty("accountsRetained").GetInt32());
        Assert.Equal(JsonValueKind.Number, company.GetProperty("nrr").ValueKind);
        Assert.Equal("0.500000", company.GetProperty("nrr").GetRawText());
        Assert.Equal("0.333333333333", company.GetProperty("grr").GetRawText());
        Assert.Equal("1.500000", Row(q2, "ana").GetProperty("nrr").GetRawText());
        Assert.Equal("0.000000", Row(q2, "bob").GetProperty("nrr").GetRawText());

        var none = await _api.Reader.GetJsonAsync($"/v1/nrr/windows?window=quarter&from=2024-04-01&to=2024-07-01&groupBy=none&{Min}");
        Assert.Equal(["*"], none.Body.GetProperty("windows")[0].GetProperty("rows").EnumerateArray().Select(x => x.GetProperty("ownerId").GetString()));
    }

    [Fact]
    public async Task Any_date_range_is_answered_from_the_account_histories()
    {
        var r = await _api.Reader.GetJsonAsync($"/v1/nrr?from=2024-04-10&to=2024-06-01&{Min}");
        Assert.Equal(HttpStatusCode.OK, r.Status);
        Assert.Equal(_head, r.Response.LedgerPosition());
        Assert.Equal("2024-04-10", r.Body.GetProperty("from").GetString());
        var company = Row(r.Body.GetProperty("rows"), "*");
        Assert.Equal("300", company.GetProperty("openingMrr").GetString()); // the expansion on 04-10 is inside the range
        Assert.Equal("50", company.GetProperty("expansion").GetString());
        Assert.Equal("0.500000", company.GetProperty("nrr").GetRawText());

        var bridge = await _api.Reader.GetJsonAsync($"/v1/bridge?from=2024-01-01&to=2025-01-01&groupBy=none&{Min}");
        var b = Row(bridge.Body.GetProperty("rows"), "*");
        Assert.Equal("0", b.GetProperty("openingMrr").GetString());
        Assert.Equal("300", b.GetProperty("new").GetString());
        Assert.Equal("50", b.GetProperty("expansion").GetString());
        Assert.Equal("200", b.GetProperty("churn").GetString());
        Assert.Equal("150", b.GetProperty("closingMrr").GetString());
        Assert.Equal(1, b.GetProperty("accountsChurned").GetInt32());
    }

    [Fact]
    public async Task Bridge_windows_and_churn_reasons_pareto()
    {
        var r = await _api.Reader.GetJsonAsync($"/v1/bridge/windows?window=year&from=2024-01-01&to=2025-01-01&{Min}");
        var year = r.Body.GetProperty("windows")[0].GetProperty("rows");
        Assert.Equal("300", Row(year, "*").GetProperty("new").GetString());
        Assert.Equal("200", Row(year, "bob").GetProperty("churn").GetString());
        Assert.Equal("0", Row(year, "bob").GetProperty("closingMrr").GetString());

        var churn = await _api.Reader.GetJsonAsync($"/v1/churn-reasons?from=2024-01-01&to=2025-01-01&{Min}");
        var row = churn.Body.GetProperty("rows").EnumerateArray().Single();
        Assert.Equal("cost", row.GetProperty("reason").GetString());
        Assert.Equal("200", row.GetProperty("mrrLost").GetString());
        Assert.Equal(1, row.GetProperty("accounts").GetInt32());
        Assert.Equal("1.000000", row.GetProperty("share").GetRawText());
        Assert.Equal("1.000000", row.GetProperty("cumulativeShare").GetRawText());
        Assert.Single((await _api.Reader.GetJsonAsync($"/v1/churn-reasons?from=2024-01-01&to=2025-01-01&ownerId=bob&{Min}")).Body.GetProperty("rows").EnumerateArray());
        Assert.Empty((await _api.Reader.GetJsonAsync($"/v1/churn-reasons?from=2024-01-01&to=2025-01-01&ownerId=ana&{Min}")).Body.GetProperty("rows").EnumerateArray());
    }

    [Fact]
    public async Task The_timeline_lists_daily_movements_with_owner_and_mrr_after()
    {
        var r = await _api.Reader.GetJsonAsync("/v1/accounts/acme/timeline");
        Assert.Equal(HttpStatusCode.OK, r.Status);
        var moves = r.Body.GetProperty("movements").EnumerateArray().ToList();
        Assert.Equal(["new", "expansion"], moves.Select(m => m.GetProperty("kind").GetString()));
        Assert.Equal(["2024-01-01", "2024-04-10"], moves.Select(m => m.GetProperty("day").GetString()));
        Assert.Equal(["100", "50"], moves.Select(m => m.GetProperty("amount").GetString()));
        Assert.Equal(["100", "150"], moves.Select(m => m.GetProperty("mrrAfter").GetString()));
        Assert.All(moves, m => Assert.Equal("ana", m.GetProperty("ownerId").GetString()));
        Assert.Equal(_head, r.Response.LedgerPosition());
        (await _api.Reader.GetJsonAsync("/v1/accounts/nobody/timeline")).AssertProblem(HttpStatusCode.NotFound, "not-found");
    }

    [Theory]
    [InlineData("/v1/nrr/windows?window=quarter&from=2024-04-01&to=2025-01-01", "from,to,ownerId,openingMrr,expansion,contraction,churn,reactivation,closingMrr,accountsOpening,accountsRetained,nrr,grr,currency")]
    [InlineData("/v1/nrr?from=2024-04-01&to=2025-01-01", "from,to,ownerId,openingMrr,expansion,contraction,churn,reactivation,closingMrr,accountsOpening,accountsRetained,nrr,grr,currency")]
    [InlineData("/v1/bridge/windows?window=month&from=2024-01-01&to=2025-01-01", "from,to,ownerId,openingMrr,new,expansion,contraction,churn,reactivation,transferIn,transferOut,closingMrr,accountsChurned,fxImpact,currency")]
    [InlineData("/v1/bridge?from=2024-01-01&to=2025-01-01", "from,to,ownerId,openingMrr,new,expansion,contraction,churn,reactivation,transferIn,transferOut,closingMrr,accountsChurned,fxImpact,currency")]
    [InlineData("/v1/churn-reasons?from=2024-01-01&to=2025-01-01", "ownerId,reason,mrrLost,accounts,share,cumulativeShare,currency")]
    [InlineData("/v1/accounts/acme/timeline", "day,kind,amount,ownerId,mrrBefore,mrrAfter,churnReason")]
    public async Task Every_report_is_csv_with_a_header_row_when_asked(string path, string header)
    {
        // The timeline reads the log itself: it takes no minPosition (and would refuse one).
        var request = new HttpRequestMessage(HttpMethod.Get, path.Contains('?', StringComparison.Ordinal) ? path + "&" + Min : path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        var response = await _api.Reader.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(header, lines[0]);
        Assert.True(lines.Length > 1, "rows follow the header");
        Assert.All(lines, l => Assert.Equal(header.Split(',').Length, l.Split(',').Length));
        Assert.Equal(_head, response.LedgerPosition());
    }

    [Fact]
    public async Task As_of_a_past_position_is_for_auditors_and_shows_what_was_known_then()
    {
        var path = $"/v1/nrr/windows?window=quarter&from=2024-04-01&to=2024-07-01&asOfPosition={_beforeChurn}";
        var past = await _api.Auditor.GetJsonAsync(path);
        Assert.Equal(HttpStatusCode.OK, past.Status);
        Assert.Equal(_beforeChurn, past.Response.LedgerPosition());
        Assert.Equal("0", Row(past.Body.GetProperty("windows")[0].GetProperty("rows"), "*").GetProperty("churn").GetString());
        var now = await _api.Auditor.GetJsonAsync($"/v1/nrr/windows?window=quarter&from=2024-04-01&to=2024-07-01&{Min}");
        Assert.Equal("200", Row(now.Body.GetProperty("windows")[0].GetProperty("rows"), "*").GetProperty("churn").GetString());

        Assert.Equal("0", Row((await _api.Auditor.GetJsonAsync($"/v1/nrr?from=2024-04-01&to=2024-07-01&asOfPosition={_beforeChurn}")).Body.GetProperty("rows"), "*").GetProperty("churn").GetString());
        (await _api.Reader.GetJsonAsync(path)).AssertProblem(HttpStatusCode.Forbidden, "forbidden");
        (await _api.Reader.GetJsonAsync($"/v1/accounts/beta/timeline?asOfPosition={_beforeChurn}")).AssertProblem(HttpStatusCode.Forbidden, "forbidden");
        var timeline = await _api.Auditor.GetJsonAsync($"/v1/accounts/beta/timeline?asOfPosition={_beforeChurn}");
        Assert.Equal(["new"], timeline.Body.GetProperty("movements").EnumerateArray().Select(m => m.GetProperty("kind").GetString()));
        (await _api.Auditor.GetJsonAsync($"/v1/nrr?from=2024-04-01&to=2024-07-01&asOfPosition={_head + 1}")).AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
    }

    [Theory]
    [InlineData("/v1/nrr?from=2024-13-01&to=2025-01-01", "from")]
    [InlineData("/v1/nrr?from=2024-02-30&to=2025-01-01", "from")]
    [InlineData("/v1/nrr?from=yesterday&to=2025-01-01", "from")]
    [InlineData("/v1/nrr?to=2025-01-01", "from")]
    [InlineData("/v1/nrr?from=2024-01-01", "to")]
    [InlineData("/v1/nrr?from=2024-06-01&to=2024-06-01", "to")]
    [InlineData("/v1/nrr?from=2024-07-01&to=2024-06-01", "to")]
    [InlineData("/v1/nrr?from=2024-01-01&to=2025-01-01&groupBy=region", "groupBy")]
    [InlineData("/v1/nrr?from=2024-01-01&to=2025-01-01&minPosition=-1", "minPosition")]
    [InlineData("/v1/nrr?from=2024-01-01&to=2025-01-01&asOfPosition=-5", "asOfPosition")]
    [InlineData("/v1/nrr?from=2024-01-01&to=2025-01-01&asOfPosition=abc", "asOfPosition")]
    [InlineData("/v1/nrr/windows?window=week&from=2024-01-01&to=2025-01-01", "window")]
    [InlineData("/v1/nrr/windows?from=2024-01-01&to=2025-01-01", "window")]
    [InlineData("/v1/bridge?from=2024-01-01&to=2023-01-01", "to")]
    [InlineData("/v1/bridge/windows?window=Quarter&from=2024-01-01&to=2025-01-01", "window")]
    [InlineData("/v1/bridge/windows?window=quarter&from=2024-01-01&to=2025-01-01&groupBy=all", "groupBy")]
    [InlineData("/v1/churn-reasons?from=2024-01-01&to=2025-01-01&ownerId=bad%20id", "ownerId")]
    [InlineData("/v1/churn-reasons?from=2024-01-01&to=2025-01-01&minPosition=-2", "minPosition")]
    public async Task Bad_query_parameters_are_400_problems_naming_the_parameter(string path, string parameter)
    {
        var problem = (await _api.Auditor.GetJsonAsync(path)).AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
        Assert.Equal(parameter, problem.GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task Min_position_reads_your_writes_and_is_503_with_retry_after_when_not_reached()
    {
        for (int i = 0; i < 10; i++)
        {
            var w = await _api.Writer.PostAsync("/v1/events", Expanded("acme", "c1", "2024-06-01", "1"));
            long position = w.Body.GetProperty("position").GetInt64();
            var r = await _api.Reader.GetJsonAsync($"/v1/nrr/windows?window=quarter&from=2024-04-01&to=2024-07-01&minPosition={position}");
            Assert.Equal(HttpStatusCode.OK, r.Status);
            Assert.True(r.Response.LedgerPosition() >= position);
            Assert.Equal((50 + i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
                Row(r.Body.GetProperty("windows")[0].GetProperty("rows"), "*").GetProperty("expansion").GetString());
        }
        var started = DateTime.UtcNow;
        var late = await _api.Reader.GetJsonAsync("/v1/nrr?from=2024-01-01&to=2025-01-01&minPosition=1000000");
        late.AssertProblem(HttpStatusCode.ServiceUnavailable, "read-model-not-caught-up");
        Assert.NotNull(late.Response.Headers.RetryAfter);
        Assert.InRange((DateTime.UtcNow - started).TotalSeconds, 4.5, 15);
        Assert.True(late.Response.LedgerPosition() >= _head);
    }

    [Fact]
    public async Task A_rebuild_switches_to_a_new_generation_with_the_same_answers()
    {
        var path = $"/v1/nrr/windows?window=month&from=2024-01-01&to=2025-01-01&{Min}";
        var before = (await _api.Reader.GetJsonAsync(path)).Body.GetProperty("windows").GetRawText();
        var admin = _api.Gateway(ApiHost.AdminKey);
        var start = await admin.PostAsync("/v1/admin/rebuild", "");
        Assert.Equal(HttpStatusCode.Accepted, start.Status);
        JsonElement status;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            await Task.Delay(100);
            status = (await admin.GetJsonAsync("/v1/admin/rebuild")).Body;
        }
        while (status.GetProperty("running").GetBoolean() && DateTime.UtcNow < deadline);
        Assert.False(status.GetProperty("running").GetBoolean());
        Assert.Equal(JsonValueKind.Null, status.GetProperty("error").ValueKind);
        Assert.True(status.GetProperty("generation").GetInt32() >= 2);
        // A request not answered before (a fresh cache entry) reads the rebuilt generation.
        Assert.Equal(before, (await _api.Reader.GetJsonAsync(path + "&groupBy=owner")).Body.GetProperty("windows").GetRawText());
    }

    [Fact]
    public async Task Health_is_anonymous_and_the_openapi_document_describes_every_endpoint()
    {
        var anonymous = _api.Gateway(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
        var ready = await anonymous.GetJsonAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.Status);
        // On SQLite with the in-memory bus the PostgreSQL and RabbitMQ checks say they are not used; the store answers.
        var checks = ready.Body.GetProperty("checks");
        Assert.Equal("Healthy", ready.Body.GetProperty("status").GetString());
        Assert.StartsWith("log head at position", checks.GetProperty("store").GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("not used", checks.GetProperty("postgresql").GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("not used", checks.GetProperty("rabbitmq").GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await _api.Ingestion(null).GetAsync("/health/ready")).StatusCode);

        var gateway = (await anonymous.GetJsonAsync("/openapi/v1.json")).Body.GetProperty("paths");
        var ingestion = (await _api.Ingestion(null).GetJsonAsync("/openapi/v1.json")).Body.GetProperty("paths");
        foreach (var path in new[] { "/v1/nrr", "/v1/nrr/windows", "/v1/bridge", "/v1/bridge/windows", "/v1/churn-reasons", "/v1/accounts/{accountId}/timeline", "/v1/admin/rebuild" })
            Assert.True(gateway.TryGetProperty(path, out _), path);
        foreach (var path in new[] { "/v1/events", "/v1/events/batch", "/v1/log", "/v1/accounts/{accountId}/events" })
            Assert.True(ingestion.TryGetProperty(path, out _), path);
        var nrr = gateway.GetProperty("/v1/nrr").GetProperty("get");
        Assert.Equal(["from", "to", "groupBy", "asOfPosition", "minPosition", "currency"],
            nrr.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        foreach (var status in new[] { "200", "400", "401", "403", "422", "429", "503" }) Assert.True(nrr.GetProperty("responses").TryGetProperty(status, out _), status);
        var submit = ingestion.GetProperty("/v1/events").GetProperty("post");
        Assert.True(submit.TryGetProperty("requestBody", out _));
        foreach (var status in new[] { "201", "200", "400", "409", "413", "422" }) Assert.True(submit.GetProperty("responses").TryGetProperty(status, out _), status);
    }
}

public sealed class RateLimitTests
{
    [Fact]
    public async Task A_key_over_its_rate_gets_429_with_retry_after_and_other_keys_are_unaffected()
    {
        await using var api = ApiHost.Start(rateLimit: 5);
        var responses = new List<HttpResponseMessage>();
        for (int i = 0; i < 20; i++) responses.Add(await api.Reader.GetAsync("/v1/nrr?from=2024-01-01&to=2025-01-01"));
        var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(limited);
        Assert.True(responses.Count(r => r.StatusCode == HttpStatusCode.OK) >= 5);
        Assert.NotNull(limited[0].Headers.RetryAfter);
        var problem = await Http.BodyAsync(limited[0]);
        Assert.Equal("https://revenueledger.dev/problems/rate-limited", problem.GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.OK, (await api.Auditor.GetAsync("/v1/nrr?from=2024-01-01&to=2025-01-01")).StatusCode);
    }
}
