using System.Globalization;
using System.Net;
using System.Text.Json;
using RevenueLedger.Application;
using RevenueLedger.Application.Insights;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Tests;

namespace RevenueLedger.Gateway.Tests;

/// <summary>A generated book with signals, posted through ingestion and read back through the insight endpoints.</summary>
public sealed class InsightBook : IAsyncLifetime
{
    public static readonly DateOnly Start = new(2022, 1, 1);

    public ApiHost Api { get; private set; } = null!;

    public List<LedgerEvent> Events { get; } = [.. SignalBook.Generate(new SignalBookOptions(1500, 5, Start, 30, Seed: 11, SignalMode.Driven))];

    public long Position { get; private set; }

    public async Task InitializeAsync()
    {
        Api = ApiHost.Start();
        var lines = Events.Select(WireFormat.ToWireJson).ToArray();
        for (int i = 0; i < lines.Length; i += 250)
        {
            var r = await Api.Writer.PostAsync("/v1/events/batch", Http.Batch(lines[i..Math.Min(lines.Length, i + 250)]));
            Assert.True(r.Status == HttpStatusCode.Created, r.Body.ToString());
        }
        Position = lines.Length;
        var caught = await Api.Reader.GetJsonAsync($"/v1/bridge?from=2022-01-01&to=2022-02-01&minPosition={Position}");
        Assert.Equal(HttpStatusCode.OK, caught.Status);
    }

    public async Task DisposeAsync() => await Api.DisposeAsync();
}

public sealed class InsightEndpointTests(InsightBook book) : IClassFixture<InsightBook>
{
    private static string Iso(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static readonly string From = Iso(InsightBook.Start.AddMonths(12)), To = Iso(InsightBook.Start.AddMonths(24));

    [Fact]
    public async Task The_pareto_of_each_owner_adds_up_to_the_bridges_churn_and_contraction_lines()
    {
        var bridge = await book.Api.Reader.GetJsonAsync($"/v1/bridge?from={From}&to={To}&groupBy=owner");
        Assert.Equal(HttpStatusCode.OK, bridge.Status);
        foreach (var row in bridge.Body.GetProperty("rows").EnumerateArray())
        {
            var owner = row.GetProperty("ownerId").ValueKind == JsonValueKind.Null ? "(unassigned)" : row.GetProperty("ownerId").GetString()!;
            var p = await book.Api.Reader.GetJsonAsync($"/v1/reasons/pareto?from={From}&to={To}&ownerId={Uri.EscapeDataString(owner)}");
            Assert.Equal(HttpStatusCode.OK, p.Status);
            Assert.Equal(book.Position, p.Body.GetProperty("position").GetInt64());
            Assert.Equal(row.GetProperty("churn").GetString(), p.Body.GetProperty("churnMrr").GetString());
            Assert.Equal(row.GetProperty("contraction").GetString(), p.Body.GetProperty("contractionMrr").GetString());
            decimal Sum(string kind) => p.Body.GetProperty("rows").EnumerateArray().Where(r => r.GetProperty("kind").GetString() == kind)
                .Sum(r => decimal.Parse(r.GetProperty("mrr").GetString()!, CultureInfo.InvariantCulture));
            Assert.Equal(decimal.Parse(row.GetProperty("churn").GetString()!, CultureInfo.InvariantCulture), Sum("churn"));
            Assert.Equal(decimal.Parse(row.GetProperty("contraction").GetString()!, CultureInfo.InvariantCulture), Sum("contraction"));
        }
        var csv = await book.Api.Reader.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/v1/reasons/pareto?from={From}&to={To}") { Headers = { { "Accept", "text/csv" } } });
        var text = await csv.Content.ReadAsStringAsync();
        Assert.StartsWith("ownerId,kind,reason,label,function,mrr,logos,share,cumulativeShare,vitalFew,currency", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_deep_dive_and_the_scores_are_what_the_ledgers_own_computation_gives_for_the_same_log()
    {
        var snapshot = LedgerSnapshot.FromEvents(book.Events);
        var window = new Window(DateOnly.Parse(From, CultureInfo.InvariantCulture), DateOnly.Parse(To, CultureInfo.InvariantCulture));
        var expected = InsightJson.DeepDive(DeepDive.Compute(snapshot, SignalBookOptions.Underperformer, window, "USD", 2000, 1));
        var r = await book.Api.Reader.GetJsonAsync($"/v1/owners/{SignalBookOptions.Underperformer}/deep-dive?from={From}&to={To}");
        Assert.Equal(HttpStatusCode.OK, r.Status);
        Assert.Equal(expected.ActualNrr, r.Body.GetProperty("actualNrr").GetDecimal());
        Assert.Equal(expected.ExpectedNrr, r.Body.GetProperty("expectedNrr").GetDouble());
        Assert.Equal((expected.IntervalLow, expected.IntervalHigh), (r.Body.GetProperty("intervalLow").GetDouble(), r.Body.GetProperty("intervalHigh").GetDouble()));
        Assert.Equal(expected.OwnerEffect, r.Body.GetProperty("ownerEffect").GetBoolean());
        // The actual NRR is the NRR endpoint's row for the owner.
        var nrr = await book.Api.Reader.GetJsonAsync($"/v1/nrr?from={From}&to={To}&groupBy=owner");
        var row = nrr.Body.GetProperty("rows").EnumerateArray().Single(x => x.GetProperty("ownerId").ValueKind == JsonValueKind.String && x.GetProperty("ownerId").GetString() == SignalBookOptions.Underperformer);
        Assert.Equal(row.GetProperty("nrr").GetDecimal(), r.Body.GetProperty("actualNrr").GetDecimal());

        var day = InsightBook.Start.AddMonths(24);
        var scores = InsightJson.Scores(book.Position, 1, HealthModel.Train(snapshot, day, 1).ScoreAll(snapshot, day, "USD"), 10);
        var s = await book.Api.Reader.GetJsonAsync($"/v1/health/scores?date={Iso(day)}&top=10");
        Assert.Equal(HttpStatusCode.OK, s.Status);
        Assert.Equal(scores.TopAccounts.Select(a => (a.AccountId, a.Score)),
            s.Body.GetProperty("topAccounts").EnumerateArray().Select(a => (a.GetProperty("accountId").GetString()!, a.GetProperty("score").GetDouble())));
        Assert.Equal(scores.Owners.Select(o => o.AtRiskMrr), s.Body.GetProperty("owners").EnumerateArray().Select(o => o.GetProperty("atRiskMrr").GetString()!));

        var e = await book.Api.Reader.GetJsonAsync($"/v1/health/evaluation?cutoff={Iso(InsightBook.Start.AddMonths(18))}");
        Assert.Equal(HttpStatusCode.OK, e.Status);
        Assert.InRange(e.Body.GetProperty("auc").GetDouble(), 0.7, 1.0);
        Assert.Equal(10, e.Body.GetProperty("calibration").GetArrayLength());
    }

    [Theory]
    [InlineData("/v1/reasons/pareto?from=2023-01-01&to=2022-01-01", "to")]
    [InlineData("/v1/reasons/pareto?from=2023-01-01&to=2024-01-01&ownerId=bad%20id", "ownerId")]
    [InlineData("/v1/health/scores?date=2023-02-30", "date")]
    [InlineData("/v1/health/scores?date=2023-02-01&top=-1", "top")]
    [InlineData("/v1/health/evaluation?cutoff=2023-01-01&seed=x", "seed")]
    [InlineData("/v1/owners/owner-01/deep-dive?from=2023-01-01&to=2024-01-01&bootstrap=5", "bootstrap")]
    [InlineData("/v1/owners/*/deep-dive?from=2023-01-01&to=2024-01-01", "ownerId")]
    public async Task Bad_parameters_are_a_problem_naming_the_parameter(string path, string parameter)
    {
        var r = await book.Api.Reader.GetJsonAsync(path);
        r.AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
        Assert.Equal(parameter, r.Body.GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task A_question_the_book_cannot_answer_is_a_422_and_as_of_is_for_auditors()
    {
        var early = await book.Api.Reader.GetJsonAsync("/v1/health/evaluation?cutoff=2022-02-01");
        early.AssertProblem(HttpStatusCode.UnprocessableEntity, InsightEndpoints.InsufficientData);
        (await book.Api.Reader.GetJsonAsync("/v1/reasons/catalogue?asOfPosition=5")).AssertProblem(HttpStatusCode.Forbidden, "forbidden");
        var beyond = await book.Api.Auditor.GetJsonAsync($"/v1/reasons/pareto?from=2023-01-01&to=2024-01-01&asOfPosition={book.Position + 1}");
        Assert.Equal("asOfPosition", beyond.AssertProblem(HttpStatusCode.BadRequest, "invalid-query").GetProperty("parameter").GetString());
        var catalogue = await book.Api.Auditor.GetJsonAsync("/v1/reasons/catalogue?asOfPosition=5");
        Assert.Equal(HttpStatusCode.OK, catalogue.Status);
        Assert.Contains(catalogue.Body.GetProperty("reasons").EnumerateArray(), r => r.GetProperty("reason").GetString() == "support" && r.GetProperty("controllableByOwner").GetBoolean());
    }

    [Fact]
    public async Task The_openapi_document_lists_each_insight_endpoint_with_exactly_its_parameters()
    {
        var paths = (await book.Api.Gateway(null).GetJsonAsync("/openapi/v1.json")).Body.GetProperty("paths");
        string[] Parameters(string path) => [.. paths.GetProperty(path).GetProperty("get").GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()!)];
        Assert.Equal(["asOfPosition"], Parameters("/v1/reasons/catalogue"));
        Assert.Equal(["from", "to", "ownerId", "currency", "asOfPosition"], Parameters("/v1/reasons/pareto"));
        Assert.Equal(["cutoff", "until", "seed", "asOfPosition"], Parameters("/v1/health/evaluation"));
        Assert.Equal(["date", "top", "currency", "seed", "asOfPosition"], Parameters("/v1/health/scores"));
        Assert.Equal(["ownerId", "from", "to", "currency", "bootstrap", "seed", "asOfPosition"], Parameters("/v1/owners/{ownerId}/deep-dive"));
        foreach (var status in new[] { "200", "400", "401", "403", "422" })
            Assert.True(paths.GetProperty("/v1/owners/{ownerId}/deep-dive").GetProperty("get").GetProperty("responses").TryGetProperty(status, out _), status);
    }
}
