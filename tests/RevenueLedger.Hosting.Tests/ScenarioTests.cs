using System.Globalization;
using System.Net;
using System.Text.Json;
using RevenueLedger.Tests;

namespace RevenueLedger.Hosting.Tests;

/// <summary>
/// The shared scenarios over HTTP, on both backends: the worked example one event per request, the generated book
/// in atomic batches; every outcome and every report row must equal the expected files.
/// </summary>
public sealed class ScenarioTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task The_worked_example_submitted_one_by_one(string backend)
    {
        await using var api = ApiHost.Start(backend);
        var lines = File.ReadAllLines(Shared.File("worked-example.jsonl"));
        var outcomes = new List<string>();
        foreach (var line in lines)
        {
            var r = await api.Writer.PostAsync("/v1/events", line);
            var outcome = Outcome(r.Status);
            if (r.Status >= HttpStatusCode.BadRequest) Assert.Equal(outcome, r.Body.GetProperty("outcome").GetString());
            outcomes.Add(outcome);
        }
        AssertOutcomes("worked-example.outcomes.json", outcomes);
        await AssertReportsAsync(api, "worked-example.q1-2024.json", "quarter");
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task The_generated_book_submitted_in_batches(string backend)
    {
        await using var api = ApiHost.Start(backend);
        var lines = File.ReadAllLines(Shared.File("generated-s11.jsonl"));
        var outcomes = new string?[lines.Length];
        int batches = 0;
        for (int i = 0; i < lines.Length;)
        {
            if (!IsJson(lines[i]))
            {
                // Not JSON: cannot travel inside a batch, so it goes alone (and is refused as invalid).
                var single = await api.Writer.PostAsync("/v1/events", lines[i]);
                outcomes[i++] = Outcome(single.Status);
                continue;
            }
            int end = i;
            while (end < lines.Length && end - i < 250 && IsJson(lines[end])) end++;
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
            Assert.Equal(Outcome(r.Status), outcomes[i + failed]);
            if (failed > 0)
            {
                var before = await api.Writer.PostAsync("/v1/events/batch", Http.Batch(lines[i..(i + failed)]));
                Assert.True(before.Status is HttpStatusCode.Created or HttpStatusCode.OK, before.Body.ToString());
                foreach (var item in before.Body.GetProperty("items").EnumerateArray()) outcomes[i + item.GetProperty("index").GetInt32()] = item.GetProperty("outcome").GetString();
            }
            i += failed + 1;
        }
        Assert.True(batches >= lines.Length / 250);
        AssertOutcomes("generated-s11.outcomes.json", outcomes.Select(o => o!).ToList());
        await AssertReportsAsync(api, "generated-s11.quarters.json", "quarter");
        await AssertReportsAsync(api, "generated-s11.months-2024.json", "month");
    }

    private static bool IsJson(string line)
    {
        try
        {
            using var _ = JsonDocument.Parse(line);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Outcome(HttpStatusCode status) => status switch
    {
        HttpStatusCode.Created => "accepted",
        HttpStatusCode.OK => "duplicate",
        HttpStatusCode.BadRequest => "invalid",
        HttpStatusCode.Conflict => "conflict",
        HttpStatusCode.UnprocessableEntity => "rejected",
        _ => throw new Xunit.Sdk.XunitException($"unexpected status {status}"),
    };

    private static void AssertOutcomes(string file, List<string> actual)
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Shared.File(file)));
        var lines = expected.RootElement.EnumerateArray().ToList();
        Assert.Equal(lines.Count, actual.Count);
        for (int i = 0; i < lines.Count; i++)
            Assert.True(lines[i].GetProperty("outcome").GetString() == actual[i], $"line {i + 1}: expected {lines[i].GetProperty("outcome").GetString()}, got {actual[i]}");
    }

    /// <summary>Every window of the expected file from /windows (NRR, bridge) and /v1/churn-reasons, at the expected position.</summary>
    private static async Task AssertReportsAsync(ApiHost api, string file, string window)
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Shared.File(file)));
        long position = expected.RootElement.GetProperty("position").GetInt64();
        var windows = expected.RootElement.GetProperty("windows").EnumerateArray().ToList();
        var (from, to) = (windows[0].GetProperty("from").GetString(), windows[^1].GetProperty("to").GetString());
        var nrr = await api.Reader.GetJsonAsync($"/v1/nrr/windows?window={window}&from={from}&to={to}&groupBy=owner&minPosition={position}");
        var bridge = await api.Reader.GetJsonAsync($"/v1/bridge/windows?window={window}&from={from}&to={to}&groupBy=owner&minPosition={position}");
        Assert.Equal(HttpStatusCode.OK, nrr.Status);
        Assert.Equal(position, nrr.Response.LedgerPosition());
        Assert.Equal(position, bridge.Body.GetProperty("position").GetInt64());
        Assert.Equal(windows.Count, nrr.Body.GetProperty("windows").GetArrayLength());
        for (int w = 0; w < windows.Count; w++)
        {
            var label = $"{file} window {windows[w].GetProperty("from").GetString()}";
            Assert.Equal(windows[w].GetProperty("from").GetString(), nrr.Body.GetProperty("windows")[w].GetProperty("from").GetString());
            AssertRows(label + " nrr", windows[w].GetProperty("nrr"), nrr.Body.GetProperty("windows")[w].GetProperty("rows"));
            AssertRows(label + " bridge", windows[w].GetProperty("bridge"), bridge.Body.GetProperty("windows")[w].GetProperty("rows"));
            var churn = await api.Reader.GetJsonAsync($"/v1/churn-reasons?from={windows[w].GetProperty("from").GetString()}&to={windows[w].GetProperty("to").GetString()}&minPosition={position}");
            Assert.Equal(position, churn.Response.LedgerPosition());
            var rows = churn.Body.GetProperty("rows");
            var want = windows[w].GetProperty("churnReasons").EnumerateArray().ToList();
            Assert.Equal(want.Count, rows.GetArrayLength());
            for (int i = 0; i < want.Count; i++)
            {
                Assert.Equal(want[i].GetProperty("reason").GetString(), rows[i].GetProperty("reason").GetString());
                Assert.Equal(decimal.Parse(want[i].GetProperty("mrrLost").GetString()!, CultureInfo.InvariantCulture), decimal.Parse(rows[i].GetProperty("mrrLost").GetString()!, CultureInfo.InvariantCulture));
                Assert.Equal(want[i].GetProperty("accounts").GetInt32(), rows[i].GetProperty("accounts").GetInt32());
            }
        }
    }

    /// <summary>Same owners, same rows: money equal as exact decimals, counts equal, ratios within 1e-6 (null when null).</summary>
    private static void AssertRows(string label, JsonElement expected, JsonElement actual)
    {
        string? Key(JsonElement r) => r.GetProperty("ownerId").GetString();
        var byOwner = actual.EnumerateArray().ToDictionary(r => Key(r) ?? "<null>");
        Assert.True(expected.GetArrayLength() == byOwner.Count, $"{label}: {expected.GetArrayLength()} rows expected, got {byOwner.Count}");
        foreach (var want in expected.EnumerateArray())
        {
            Assert.True(byOwner.TryGetValue(Key(want) ?? "<null>", out var got), $"{label}: no row for owner {Key(want)}");
            foreach (var field in want.EnumerateObject())
            {
                if (field.Name == "ownerId") continue;
                var value = got.GetProperty(field.Name);
                var where = $"{label} owner {Key(want)} {field.Name}";
                if (field.Value.ValueKind == JsonValueKind.Null) Assert.True(value.ValueKind == JsonValueKind.Null, where);
                else if (field.Value.ValueKind == JsonValueKind.Number) Assert.True(field.Value.GetInt64() == value.GetInt64(), where);
                else if (field.Name is "nrr" or "grr")
                {
                    Assert.True(value.ValueKind == JsonValueKind.Number, where + " is a JSON number");
                    Assert.True(Math.Abs(decimal.Parse(field.Value.GetString()!, CultureInfo.InvariantCulture) - value.GetDecimal()) <= 0.000001m, where);
                }
                else Assert.True(decimal.Parse(field.Value.GetString()!, CultureInfo.InvariantCulture) == decimal.Parse(value.GetString()!, CultureInfo.InvariantCulture), $"{where}: {field.Value} vs {value}");
            }
        }
    }
}
