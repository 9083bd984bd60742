using System.Globalization;
using System.Net;
using System.Text.Json;
using RevenueLedger.Tests;

namespace RevenueLedger.Gateway.Tests;

/// <summary>
/// The shared scenarios over HTTP, on every backend: the worked example one event per request, the generated book
/// in atomic batches; every outcome and every report row must equal the expected files.
/// </summary>
public sealed class ScenarioTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    [InlineData("marten")]
    public async Task The_worked_example_submitted_one_by_one(string backend)
    {
        await using var api = ApiHost.Start(backend);
        var lines = File.ReadAllLines(Shared.File("worked-example.jsonl"));
        var outcomes = new List<string>();
        foreach (var line in lines)
        {
            var r = await api.Writer.PostAsync("/v1/events", line);
            var outcome = Scenarios.Outcome(r.Status);
            if (r.Status >= HttpStatusCode.BadRequest) Assert.Equal(outcome, r.Body.GetProperty("outcome").GetString());
            outcomes.Add(outcome);
        }
        Scenarios.AssertOutcomes("worked-example.outcomes.json", outcomes);
        await Scenarios.AssertReportsAsync(api.Reader, "worked-example.q1-2024.json", "quarter");
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    [InlineData("marten")]
    public async Task The_generated_book_submitted_in_batches(string backend)
    {
        await using var api = ApiHost.Start(backend);
        var lines = File.ReadAllLines(Shared.File("generated-s11.jsonl"));
        var outcomes = new string?[lines.Length];
        int batches = 0;
        for (int i = 0; i < lines.Length;)
        {
            if (!Scenarios.IsJson(lines[i]))
            {
                // Not JSON: cannot travel inside a batch, so it goes alone (and is refused as invalid).
                var single = await api.Writer.PostAsync("/v1/events", lines[i]);
                outcomes[i++] = Scenarios.Outcome(single.Status);
                continue;
            }
            int end = i;
            while (end < lines.Length && end - i < 250 && Scenarios.IsJson(lines[end])) end++;
            var r = await api.Writer.PostAsync("/v1/events/batch", Http.Batch(lines[i..end]));
            batches++;
            if (r.Status is HttpStatusCode.Created or HttpStatusCode.OK)
            {
                foreach (var item in r.Body.GetProperty("items").EnumerateArray()) outcomes[i + item.GetProperty("index").GetInt32()] = item.GetProperty("outcome").GetString();
                i = end;
                continue;
            }
            // Atomic: nothing was stored. The refused item's outcome is what it is after the items before it, which
            // are then stored on their own; the rest follow in the next batch.
            int failed = r.Body.GetProperty("index").GetInt32();
            outcomes[i + failed] = r.Body.GetProperty("outcome").GetString();
            Assert.Equal(Scenarios.Outcome(r.Status), outcomes[i + failed]);
            if (failed > 0)
            {
                var before = await api.Writer.PostAsync("/v1/events/batch", Http.Batch(lines[i..(i + failed)]));
                Assert.True(before.Status is HttpStatusCode.Created or HttpStatusCode.OK, before.Body.ToString());
                foreach (var item in before.Body.GetProperty("items").EnumerateArray()) outcomes[i + item.GetProperty("index").GetInt32()] = item.GetProperty("outcome").GetString();
            }
            i += failed + 1;
        }
        Assert.True(batches >= lines.Length / 250);
        Scenarios.AssertOutcomes("generated-s11.outcomes.json", outcomes.Select(o => o!).ToList());
        await Scenarios.AssertReportsAsync(api.Reader, "generated-s11.quarters.json", "quarter");
        await Scenarios.AssertReportsAsync(api.Reader, "generated-s11.months-2024.json", "month");
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task The_multi_currency_book_over_http_in_each_reporting_currency_and_the_missing_rate_refused(string backend)
    {
        await using var api = ApiHost.Start(backend);
        var lines = File.ReadAllLines(Shared.File("multi-currency.jsonl"));
        var outcomes = new List<string>();
        foreach (var line in lines)
        {
            var r = await api.Writer.PostAsync("/v1/events", line);
            outcomes.Add(Scenarios.Outcome(r.Status));
        }
        Scenarios.AssertOutcomes("multi-currency.outcomes.json", outcomes);
        await Scenarios.AssertReportsAsync(api.Reader, "multi-currency.quarters-usd.json", "quarter");
        await Scenarios.AssertReportsAsync(api.Reader, "multi-currency.quarters-usd.json", "quarter", "USD");
        await Scenarios.AssertReportsAsync(api.Reader, "multi-currency.quarters-eur.json", "quarter", "EUR");

        using var expected = JsonDocument.Parse(File.ReadAllText(Shared.File("multi-currency.missing-rate.json")));
        var e = expected.RootElement;
        foreach (var path in new[] { "/v1/nrr/windows?window=quarter&", "/v1/bridge/windows?window=quarter&", "/v1/bridge?" })
        {
            var refused = await api.Reader.GetJsonAsync($"{path}from=2024-01-01&to=2025-01-01&currency=GBP&minPosition=61");
            refused.AssertProblem((HttpStatusCode)422, e.GetProperty("error").GetString()!);
            foreach (var field in new[] { "currency", "quoteCurrency", "date" })
                Assert.Equal(e.GetProperty(field).GetString(), refused.Body.GetProperty(field).GetString());
        }
        // The churn Pareto's rows are the churned accounts' alone (USD and GBP): it needs, and names, the USD rate.
        var churn = await api.Reader.GetJsonAsync("/v1/churn-reasons?from=2024-01-01&to=2025-01-01&currency=GBP&minPosition=61");
        churn.AssertProblem((HttpStatusCode)422, "fx-rate-missing");
        Assert.Equal(["USD", "GBP", "2024-01-01"], new[] { "currency", "quoteCurrency", "date" }.Select(f => churn.Body.GetProperty(f).GetString()));
        var badCode = await api.Reader.GetJsonAsync("/v1/nrr?from=2024-01-01&to=2025-01-01&currency=eur");
        badCode.AssertProblem(HttpStatusCode.BadRequest, "invalid-query");
    }
}
