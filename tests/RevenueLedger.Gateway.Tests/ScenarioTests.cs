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
}
