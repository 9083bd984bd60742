using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Xunit;

namespace RevenueLedger.Tests;

public static class Http
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(this HttpClient client, string path, string json)
    {
        var response = await client.PostAsync(path, Json(json));
        return (response.StatusCode, await BodyAsync(response), response);
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> GetJsonAsync(this HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        return (response.StatusCode, await BodyAsync(response), response);
    }

    public static async Task<JsonElement> BodyAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public static long LedgerPosition(this HttpResponseMessage response) =>
        long.Parse(response.Headers.GetValues("Ledger-Position").Single(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Asserts a problem+json answer with this status and problem type code; returns its body.</summary>
    public static JsonElement AssertProblem(this (HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response) r, HttpStatusCode status, string code)
    {
        Assert.Equal(status, r.Status);
        Assert.Equal("application/problem+json", r.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("https://revenueledger.dev/problems/" + code, r.Body.GetProperty("type").GetString());
        Assert.Equal((int)status, r.Body.GetProperty("status").GetInt32());
        return r.Body;
    }

    public static string Started(string account, string contract = "c1", string date = "2024-01-01", string mrr = "100", string? eventId = null) =>
        $$"""{"type":"ContractStarted",{{Id(eventId)}}"accountId":"{{account}}","contractId":"{{contract}}","effectiveDate":"{{date}}","mrr":"{{mrr}}","currency":"USD"}""";

    public static string Expanded(string account, string contract, string date, string amount, string? eventId = null) =>
        $$"""{"type":"ContractExpanded",{{Id(eventId)}}"accountId":"{{account}}","contractId":"{{contract}}","effectiveDate":"{{date}}","amount":"{{amount}}","currency":"USD"}""";

    public static string Churned(string account, string contract, string date, string reason, string? eventId = null) =>
        $$"""{"type":"ContractChurned",{{Id(eventId)}}"accountId":"{{account}}","contractId":"{{contract}}","effectiveDate":"{{date}}","reason":"{{reason}}"}""";

    public static string Owner(string account, string owner, string date, string? eventId = null) =>
        $$"""{"type":"OwnerAssigned",{{Id(eventId)}}"accountId":"{{account}}","ownerId":"{{owner}}","effectiveDate":"{{date}}"}""";

    public static string Reversed(string account, string target, string? eventId = null) =>
        $$"""{"type":"EventReversed",{{Id(eventId)}}"accountId":"{{account}}","targetEventId":"{{target}}"}""";

    public static string Batch(params string[] events) => $"{{\"events\":[{string.Join(',', events)}]}}";

    private static string Id(string? eventId) => eventId is null ? "" : $"\"eventId\":\"{eventId}\",";
}

/// <summary>The shared scenarios' expected files, checked against what the services answer over HTTP.</summary>
public static class Scenarios
{
    public static bool IsJson(string line)
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

    public static string Outcome(HttpStatusCode status) => status switch
    {
        HttpStatusCode.Created => "accepted",
        HttpStatusCode.OK => "duplicate",
        HttpStatusCode.BadRequest => "invalid",
        HttpStatusCode.Conflict => "conflict",
        HttpStatusCode.UnprocessableEntity => "rejected",
        _ => throw new Xunit.Sdk.XunitException($"unexpected status {status}"),
    };

    public static void AssertOutcomes(string file, List<string> actual)
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Shared.File(file)));
        var lines = expected.RootElement.EnumerateArray().ToList();
        Assert.Equal(lines.Count, actual.Count);
        for (int i = 0; i < lines.Count; i++)
            Assert.True(lines[i].GetProperty("outcome").GetString() == actual[i], $"line {i + 1}: expected {lines[i].GetProperty("outcome").GetString()}, got {actual[i]}");
    }

    /// <summary>Every window of the expected file from /windows (NRR, bridge) and /v1/churn-reasons, at the expected position.</summary>
    public static async Task AssertReportsAsync(HttpClient reader, string file, string window, string? currency = null)
    {
        var cur = currency is null ? "" : "&currency=" + currency;
        using var expected = JsonDocument.Parse(File.ReadAllText(Shared.File(file)));
        long position = expected.RootElement.GetProperty("position").GetInt64();
        var windows = expected.RootElement.GetProperty("windows").EnumerateArray().ToList();
        var (from, to) = (windows[0].GetProperty("from").GetString(), windows[^1].GetProperty("to").GetString());
        var nrr = await reader.GetJsonAsync($"/v1/nrr/windows?window={window}&from={from}&to={to}&groupBy=owner&minPosition={position}{cur}");
        var bridge = await reader.GetJsonAsync($"/v1/bridge/windows?window={window}&from={from}&to={to}&groupBy=owner&minPosition={position}{cur}");
        Assert.Equal(HttpStatusCode.OK, nrr.Status);
        Assert.Equal(position, nrr.Response.LedgerPosition());
        Assert.Equal(position, bridge.Body.GetProperty("position").GetInt64());
        Assert.Equal(windows.Count, nrr.Body.GetProperty("windows").GetArrayLength());
        for (int w = 0; w < windows.Count; w++)
        {
            var label = $"{file} window {windows[w].GetProperty("from").GetString()}";
            Assert.Equal(windows[w].GetProperty("from").GetString(), nrr.Body.GetProperty("windows")[w].GetProperty("from").GetString());
            AssertRows(label + " nrr", windows[w].GetProperty("nrr"), nrr.Body.GetProperty("windows")[w].GetProperty("rows"));
            if (windows[w].TryGetProperty("currency", out var wantCurrency))
                foreach (var body in new[] { nrr.Body, bridge.Body })
                {
                    var got = body.GetProperty("windows")[w];
                    Assert.Equal(wantCurrency.GetString(), got.GetProperty("currency").GetString());
                    static string Rate(JsonElement r) => string.Join("|", r.GetProperty("currency").GetString(), r.GetProperty("quoteCurrency").GetString(),
                        r.GetProperty("date").GetString(), decimal.Parse(r.GetProperty("rate").GetString()!, CultureInfo.InvariantCulture), r.GetProperty("position").GetInt64());
                    Assert.Equal(windows[w].GetProperty("rates").EnumerateArray().Select(Rate), got.GetProperty("rates").EnumerateArray().Select(Rate));
                }
            AssertRows(label + " bridge", windows[w].GetProperty("bridge"), bridge.Body.GetProperty("windows")[w].GetProperty("rows"));
            var churn = await reader.GetJsonAsync($"/v1/churn-reasons?from={windows[w].GetProperty("from").GetString()}&to={windows[w].GetProperty("to").GetString()}&minPosition={position}{cur}");
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
    public static void AssertRows(string label, JsonElement expected, JsonElement actual)
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
