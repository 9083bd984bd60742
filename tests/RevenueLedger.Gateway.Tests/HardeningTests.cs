using System.Net;
using System.Text;
using RevenueLedger.Tests;
using static RevenueLedger.Tests.Http;

namespace RevenueLedger.Gateway.Tests;

/// <summary>Issue 21's findings on the query side, each one a request that used to get the wrong answer.</summary>
public sealed class HardeningTests : IAsyncLifetime
{
    private ApiHost _api = null!;

    public async Task InitializeAsync()
    {
        _api = ApiHost.Start();
        var r = await _api.Writer.PostAsync("/v1/events/batch", Batch(Started("acme"), Owner("acme", "ana", "2024-01-01")));
        Assert.Equal(HttpStatusCode.Created, r.Status);
        Assert.Equal(HttpStatusCode.OK, (await _api.Reader.GetJsonAsync("/v1/nrr?from=2024-01-01&to=2024-04-01&minPosition=2")).Status);
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Theory]
    [InlineData("/v1/nrr?from=2024-01-01&to=2024-04-01&owner=nobody", "owner")]
    [InlineData("/v1/nrr?from=2024-01-01&to=2024-04-01&ownerId=ana", "ownerId")]
    [InlineData("/v1/nrr?from=2024-01-01&to=2024-04-01&format=csv", "format")]
    [InlineData("/v1/bridge/windows?window=month&from=2024-01-01&to=2024-04-01&round=3", "round")]
    [InlineData("/v1/churn-reasons?from=2024-01-01&to=2024-04-01&owner=ana", "owner")]
    [InlineData("/v1/reasons/pareto?from=2024-01-01&to=2024-04-01&limit=5", "limit")]
    public async Task A_parameter_the_endpoint_does_not_take_is_refused_by_name_with_the_position(string path, string parameter)
    {
        var r = await _api.Reader.GetJsonAsync(path);
        Assert.Equal(parameter, r.AssertProblem(HttpStatusCode.BadRequest, "invalid-query").GetProperty("parameter").GetString());
        Assert.True(r.Response.Headers.Contains("Ledger-Position"));
        // The same request without it is answered.
        var fixedPath = string.Join('&', path.Split('&').Where(p => !p.StartsWith(parameter + "=", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.OK, (await _api.Reader.GetJsonAsync(fixedPath)).Status);
    }

    [Fact]
    public async Task The_ingestion_side_refuses_unknown_parameters_too()
    {
        var r = await _api.Ingestion(ApiHost.AuditorKey).GetJsonAsync("/v1/log?fromPosition=1&size=10");
        Assert.Equal("size", r.AssertProblem(HttpStatusCode.BadRequest, "invalid-query").GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task Too_many_windows_or_too_long_a_range_is_refused_quickly_naming_the_limit()
    {
        var started = DateTime.UtcNow;
        // The request: ~13,200 month windows over 1,100 years took 9.5 s of server time.
        (await _api.Reader.GetJsonAsync("/v1/bridge/windows?window=month&from=1900-01-01&to=2999-12-31")).AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(2));
        var windows = await _api.Reader.GetJsonAsync("/v1/bridge/windows?window=month&from=1900-01-01&to=2099-12-31");
        var body = windows.AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
        Assert.Equal(1200, body.GetProperty("limit").GetInt32());
        Assert.Contains("2400 month windows", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // 1,200 months is the most: allowed.
        Assert.Equal(HttpStatusCode.OK, (await _api.Reader.GetJsonAsync("/v1/bridge/windows?window=month&from=1950-01-01&to=2050-01-01")).Status);
        var range = await _api.Reader.GetJsonAsync("/v1/nrr?from=1900-01-01&to=2999-12-31");
        var tooLong = range.AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
        Assert.Equal(("to", 200, "years"), (tooLong.GetProperty("parameter").GetString(), tooLong.GetProperty("limit").GetInt32(), tooLong.GetProperty("limitUnit").GetString()));
    }

    [Fact]
    public async Task As_of_beyond_the_head_is_an_invalid_query_like_every_other_with_the_position_header()
    {
        var r = await _api.Auditor.GetJsonAsync("/v1/nrr?from=2024-01-01&to=2024-04-01&asOfPosition=99");
        var body = r.AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
        Assert.Equal("asOfPosition", body.GetProperty("parameter").GetString());
        Assert.Equal("Invalid query parameter", body.GetProperty("title").GetString());
        Assert.True(r.Response.Headers.Contains("Ledger-Position"));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData(null)]
    public async Task A_body_that_is_not_declared_json_gets_the_ledgers_own_problem_type(string? contentType)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(Started("beta")));
        if (contentType is not null) content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        using var response = await _api.Writer.PostAsync("/v1/events", content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"type\":\"https://revenueledger.dev/problems/", text, StringComparison.Ordinal);
        Assert.DoesNotContain("tools.ietf.org", text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task A_role_is_named_with_its_article()
    {
        var r = await _api.Gateway(ApiHost.AuditorKey).PostAsync("/v1/admin/rebuild", "{}");
        Assert.Equal("an auditor key may not do this", r.AssertProblem(HttpStatusCode.Forbidden, "forbidden").GetProperty("detail").GetString());
        var w = await _api.Gateway(ApiHost.ReaderKey).PostAsync("/v1/admin/rebuild", "{}");
        Assert.Equal("a reader key may not do this", w.AssertProblem(HttpStatusCode.Forbidden, "forbidden").GetProperty("detail").GetString());
    }
}

/// <summary>Per-key concurrency and the query timeout, each on its own host (their settings are the host's).</summary>
public sealed class LoadLimitTests
{
    [Fact]
    public async Task A_key_with_requests_in_flight_up_to_its_limit_gets_429_with_retry_after_and_other_keys_do_not()
    {
        await using var api = ApiHost.Start(gatewaySettings: new Dictionary<string, string> { ["LEDGER_CONCURRENCY_PER_KEY"] = "2" });
        // Two requests that wait (minPosition never reached: up to 5 s each) hold the reader key's two permits.
        var waiting = Enumerable.Range(0, 2).Select(_ => api.Reader.GetAsync("/v1/nrr?from=2024-01-01&to=2024-04-01&minPosition=1000")).ToList();
        await Task.Delay(500);
        using var third = await api.Reader.GetAsync("/v1/nrr?from=2024-01-01&to=2024-04-01");
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal("1", third.Headers.GetValues("Retry-After").Single());
        Assert.Contains("2 queries at once", await third.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var other = await api.Auditor.GetAsync("/v1/nrr?from=2024-01-01&to=2024-04-01");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        foreach (var w in waiting) Assert.Equal(HttpStatusCode.ServiceUnavailable, (await w).StatusCode); // read-model-not-caught-up
        using var after = await api.Reader.GetAsync("/v1/nrr?from=2024-01-01&to=2024-04-01");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_query_over_the_timeout_is_answered_503_not_left_hanging()
    {
        await using var api = ApiHost.Start(gatewaySettings: new Dictionary<string, string> { ["LEDGER_QUERY_TIMEOUT_SECONDS"] = "0.001" });
        var events = Enumerable.Range(0, 200).Select(i => Started($"a{i}")).ToArray();
        Assert.Equal(HttpStatusCode.Created, (await api.Writer.PostAsync("/v1/events/batch", Batch(events))).Status);
        // As of a position the log is replayed: far more than a millisecond.
        var r = await api.Auditor.GetJsonAsync("/v1/nrr/windows?window=month&from=2020-01-01&to=2030-01-01&asOfPosition=150");
        r.AssertProblem(HttpStatusCode.ServiceUnavailable, "query-timeout");
        Assert.Equal("5", r.Response.Headers.GetValues("Retry-After").Single());
    }
}
