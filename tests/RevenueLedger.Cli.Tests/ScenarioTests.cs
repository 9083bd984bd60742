using System.Globalization;
using System.Text.Json;
using RevenueLedger.Tests;

namespace RevenueLedger.Cli.Tests;

/// <summary>The shared scenarios through `ledger import` and `ledger report --format json`: every outcome, every row, every field.</summary>
public sealed class ScenarioTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly TestSchema _schema = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _dir.Dispose();
        await _schema.DropAsync();
    }

    [Theory]
    [InlineData("sqlite", "worked-example", "2024-01-01", "2024-04-01", null, "worked-example.q1-2024.json")]
    [InlineData("sqlite", "generated-s11", "2022-01-01", "2025-01-01", "quarter", "generated-s11.quarters.json")]
    [InlineData("sqlite", "generated-s11", "2024-01-01", "2025-01-01", "month", "generated-s11.months-2024.json")]
    [InlineData("postgres", "worked-example", "2024-01-01", "2024-04-01", null, "worked-example.q1-2024.json")]
    [InlineData("postgres", "generated-s11", "2022-01-01", "2025-01-01", "quarter", "generated-s11.quarters.json")]
    [InlineData("postgres", "generated-s11", "2024-01-01", "2025-01-01", "month", "generated-s11.months-2024.json")]
    [InlineData("postgres-read-models", "worked-example", "2024-01-01", "2024-04-01", null, "worked-example.q1-2024.json")]
    [InlineData("postgres-read-models", "worked-example", "2024-01-01", "2024-04-01", "quarter", "worked-example.q1-2024.json")]
    [InlineData("postgres-read-models", "generated-s11", "2022-01-01", "2025-01-01", "quarter", "generated-s11.quarters.json")]
    [InlineData("postgres-read-models", "generated-s11", "2024-01-01", "2025-01-01", "month", "generated-s11.months-2024.json")]
    [InlineData("marten", "worked-example", "2024-01-01", "2024-04-01", null, "worked-example.q1-2024.json")]
    [InlineData("marten", "generated-s11", "2022-01-01", "2025-01-01", "quarter", "generated-s11.quarters.json")]
    [InlineData("marten-read-models", "generated-s11", "2024-01-01", "2025-01-01", "month", "generated-s11.months-2024.json")]
    [InlineData("sqlite-read-models", "worked-example", "2024-01-01", "2024-04-01", null, "worked-example.q1-2024.json")]
    [InlineData("sqlite-read-models", "generated-s11", "2022-01-01", "2025-01-01", "quarter", "generated-s11.quarters.json")]
    [InlineData("sqlite-read-models", "generated-s11", "2024-01-01", "2025-01-01", "month", "generated-s11.months-2024.json")]
    public Task Import_and_report_reproduce_the_expected_files(string backend, string scenario, string from, string to, string? window, string expectedFile) =>
        ImportAndReportAsync(backend, scenario, from, to, window, expectedFile, currency: null);

    [Theory]
    [InlineData("sqlite", "USD", "multi-currency.quarters-usd.json")]
    [InlineData("sqlite", "EUR", "multi-currency.quarters-eur.json")]
    [InlineData("sqlite-read-models", "USD", "multi-currency.quarters-usd.json")]
    [InlineData("sqlite-read-models", "EUR", "multi-currency.quarters-eur.json")]
    [InlineData("postgres", "USD", "multi-currency.quarters-usd.json")]
    [InlineData("postgres", "EUR", "multi-currency.quarters-eur.json")]
    [InlineData("postgres-read-models", "USD", "multi-currency.quarters-usd.json")]
    [InlineData("postgres-read-models", "EUR", "multi-currency.quarters-eur.json")]
    public Task The_multi_currency_book_reproduces_the_expected_files_in_each_reporting_currency(string backend, string currency, string expectedFile) =>
        ImportAndReportAsync(backend, "multi-currency", "2024-01-01", "2025-01-01", "quarter", expectedFile, currency);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("sqlite-read-models")]
    [InlineData("postgres")]
    [InlineData("postgres-read-models")]
    public async Task A_report_that_needs_a_missing_rate_fails_naming_the_pair_and_the_day(string backend)
    {
        var store = await ImportAsync(backend, "multi-currency");
        using var expected = JsonDocument.Parse(System.IO.File.ReadAllText(Shared.File("multi-currency.missing-rate.json")));
        var e = expected.RootElement;
        var report = await Cli.RunAsync("report", "--store", store, "--from", "2024-01-01", "--to", "2025-01-01", "--window", "quarter", "--format", "json", "--currency", "GBP");
        Assert.NotEqual(0, report.Exit);
        Assert.Equal("", report.Out.Trim()); // no report at all, not one with a rate taken as 1 or 0
        Assert.Contains(e.GetProperty("error").GetString()!, report.Err, StringComparison.Ordinal);
        Assert.Contains($"no {e.GetProperty("currency").GetString()}→{e.GetProperty("quoteCurrency").GetString()} exchange rate is in force on {e.GetProperty("date").GetString()}", report.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task As_of_a_position_a_report_converts_with_the_rates_known_then()
    {
        // fx-eurusd-2024-04 (line 33) was recorded late, at position 32: before it, the March rate was in force on 2024-04-01.
        var store = await ImportAsync("sqlite", "multi-currency");
        async Task<string[]> RatesOfQ2(long? asOf)
        {
            var args = new List<string> { "report", "--store", store, "--from", "2024-04-01", "--to", "2024-07-01", "--format", "json", "--currency", "USD" };
            if (asOf is { } p) args.AddRange(["--as-of-position", p.ToString(CultureInfo.InvariantCulture)]);
            var r = await Cli.RunAsync([.. args]);
            Assert.True(r.Exit == 0, r.Err);
            using var doc = JsonDocument.Parse(r.Out);
            return doc.RootElement.GetProperty("windows")[0].GetProperty("rates").EnumerateArray()
                .Where(x => x.GetProperty("currency").GetString() == "EUR" && x.GetProperty("date").GetString() == "2024-04-01")
                .Select(x => $"{x.GetProperty("rate").GetString()}@{x.GetProperty("position").GetInt64()}").ToArray();
        }
        Assert.Equal(["1.08@20"], await RatesOfQ2(31));
        Assert.Equal(["1.079@32"], await RatesOfQ2(32));
        Assert.Equal(["1.079@32"], await RatesOfQ2(null));
    }

    [Fact]
    public async Task A_total_that_would_reach_ten_to_the_fourteenth_in_the_reporting_currency_is_refused()
    {
        var book = _dir.File("big.jsonl");
        await System.IO.File.WriteAllLinesAsync(book, [
            """{"type":"FxRateRecorded","eventId":"fx-1","currency":"EUR","quoteCurrency":"JPY","effectiveDate":"2024-01-01","rate":"160000"}""",
            """{"type":"ContractStarted","eventId":"big-1","accountId":"big","contractId":"c1","effectiveDate":"2024-01-01","mrr":"1000000000","currency":"EUR"}""",
        ]);
        var store = "sqlite:" + _dir.File("big.db");
        Assert.Equal(0, (await Cli.RunAsync("import", book, "--store", store)).Exit);
        var inEuro = await Cli.RunAsync("report", "--store", store, "--from", "2024-02-01", "--to", "2024-03-01", "--currency", "EUR", "--format", "json");
        Assert.True(inEuro.Exit == 0, inEuro.Err);
        var inYen = await Cli.RunAsync("report", "--store", store, "--from", "2024-02-01", "--to", "2024-03-01", "--currency", "JPY", "--format", "json");
        Assert.NotEqual(0, inYen.Exit);
        Assert.Equal("", inYen.Out.Trim());
        Assert.Contains("amount-overflow", inYen.Err, StringComparison.Ordinal);
        Assert.Contains("would reach 10^14 JPY", inYen.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reporting_currency_that_is_no_iso_code_is_refused()
    {
        var store = await ImportAsync("sqlite", "multi-currency");
        var report = await Cli.RunAsync("report", "--store", store, "--from", "2024-01-01", "--to", "2025-01-01", "--currency", "eur");
        Assert.NotEqual(0, report.Exit);
        Assert.Contains("--currency must be a three-letter upper-case ISO 4217 code", report.Err, StringComparison.Ordinal);
    }

    /// <summary>Imports the scenario (its outcomes checked), and for a read-model backend projects it; returns the store URI.</summary>
    private async Task<string> ImportAsync(string backend, string scenario)
    {
        var store = backend.Split('-')[0] switch
        {
            "sqlite" => "sqlite:" + _dir.File("ledger.db"),
            var server => server + ":" + _schema.ConnectionString,
        };
        var outcomes = _dir.File("outcomes.json");
        var import = await Cli.RunAsync("import", Shared.File(scenario + ".jsonl"), "--store", store, "--outcomes", outcomes);
        Assert.True(import.Exit == 0, import.Err);
        AssertOutcomes(Shared.File(scenario + ".outcomes.json"), outcomes);
        if (backend.EndsWith("read-models", StringComparison.Ordinal))
        {
            // Reports then come from the projected rows (window rows, or account histories for other ranges).
            var project = await Cli.RunAsync("project", "--store", store);
            Assert.True(project.Exit == 0, project.Err);
        }
        return store;
    }

    private async Task ImportAndReportAsync(string backend, string scenario, string from, string to, string? window, string expectedFile, string? currency)
    {
        var store = await ImportAsync(backend, scenario);
        var args = new List<string> { "report", "--store", store, "--from", from, "--to", to, "--format", "json" };
        if (window is not null) args.AddRange(["--window", window]);
        if (currency is not null) args.AddRange(["--currency", currency]);
        var report = await Cli.RunAsync([.. args]);
        Assert.True(report.Exit == 0, report.Err);
        AssertReport(System.IO.File.ReadAllText(Shared.File(expectedFile)), report.Out);
    }

    private static void AssertOutcomes(string expectedPath, string actualPath)
    {
        using var expected = JsonDocument.Parse(System.IO.File.ReadAllText(expectedPath));
        using var actual = JsonDocument.Parse(System.IO.File.ReadAllText(actualPath));
        var e = expected.RootElement.EnumerateArray().Select(x => (x.GetProperty("line").GetInt32(), x.GetProperty("outcome").GetString())).ToList();
        var a = actual.RootElement.EnumerateArray().Select(x => (x.GetProperty("line").GetInt32(), x.GetProperty("outcome").GetString())).ToList();
        Assert.Equal(e, a);
        // Every refusal says why.
        Assert.All(actual.RootElement.EnumerateArray().Where(x => x.GetProperty("outcome").GetString() is not ("accepted" or "duplicate")),
            x => Assert.False(string.IsNullOrWhiteSpace(x.GetProperty("error").GetString())));
    }

    /// <summary>Rows are matched by owner (and reason); money and counts must be equal, ratios within 1e-6.</summary>
    internal static void AssertReport(string expectedJson, string actualJson)
    {
        using var expected = JsonDocument.Parse(expectedJson);
        using var actual = JsonDocument.Parse(actualJson);
        Assert.Equal(expected.RootElement.GetProperty("position").GetInt64(), actual.RootElement.GetProperty("position").GetInt64());
        var ew = expected.RootElement.GetProperty("windows").EnumerateArray().ToList();
        var aw = actual.RootElement.GetProperty("windows").EnumerateArray().ToList();
        Assert.Equal(ew.Count, aw.Count);
        int fields = 0;
        for (int i = 0; i < ew.Count; i++)
        {
            Assert.Equal(ew[i].GetProperty("from").GetString(), aw[i].GetProperty("from").GetString());
            Assert.Equal(ew[i].GetProperty("to").GetString(), aw[i].GetProperty("to").GetString());
            if (ew[i].TryGetProperty("currency", out var currency))
                Assert.Equal(currency.GetString(), aw[i].GetProperty("currency").GetString());
            if (ew[i].TryGetProperty("rates", out var rates))
            {
                static string Rate(JsonElement r) => string.Join("|", r.GetProperty("currency").GetString(), r.GetProperty("quoteCurrency").GetString(),
                    r.GetProperty("date").GetString(), decimal.Parse(r.GetProperty("rate").GetString()!, CultureInfo.InvariantCulture), r.GetProperty("position").GetInt64());
                Assert.Equal(rates.EnumerateArray().Select(Rate), aw[i].GetProperty("rates").EnumerateArray().Select(Rate));
                fields++;
            }
            foreach (var part in new[] { "nrr", "bridge", "churnReasons" })
            {
                var er = Keyed(ew[i].GetProperty(part));
                var ar = Keyed(aw[i].GetProperty(part));
                var where = $"{ew[i].GetProperty("from").GetString()} {part}";
                Assert.True(er.Keys.Order().SequenceEqual(ar.Keys.Order()), $"{where}: rows {string.Join(",", er.Keys)} expected, got {string.Join(",", ar.Keys)}");
                foreach (var (key, row) in er)
                    foreach (var field in row.EnumerateObject())
                    {
                        Assert.True(ar[key].TryGetProperty(field.Name, out var value), $"{where} {key}: no {field.Name}");
                        AssertField(field.Value, value, $"{where} {key}.{field.Name}");
                        fields++;
                    }
            }
        }
        Assert.True(fields > 0);
    }

    private static Dictionary<string, JsonElement> Keyed(JsonElement rows) =>
        rows.EnumerateArray().ToDictionary(r =>
            (r.TryGetProperty("ownerId", out var o) ? (o.ValueKind == JsonValueKind.Null ? "(null)" : o.GetString()) : "") + "|" +
            (r.TryGetProperty("reason", out var reason) ? reason.GetString() : ""));

    private static void AssertField(JsonElement expected, JsonElement actual, string where)
    {
        switch (expected.ValueKind)
        {
            case JsonValueKind.Number:
                Assert.True(actual.ValueKind == JsonValueKind.Number && expected.GetInt64() == actual.GetInt64(), $"{where}: expected {expected}, got {actual}");
                break;
            case JsonValueKind.Null:
                Assert.True(actual.ValueKind == JsonValueKind.Null, $"{where}: expected null, got {actual}");
                break;
            case JsonValueKind.String when where.EndsWith(".ownerId", StringComparison.Ordinal) || where.EndsWith(".reason", StringComparison.Ordinal):
                Assert.Equal(expected.GetString(), actual.GetString());
                break;
            default:
                var e = decimal.Parse(expected.GetString()!, CultureInfo.InvariantCulture);
                var a = decimal.Parse(actual.GetString()!, CultureInfo.InvariantCulture);
                bool ratio = where.EndsWith(".nrr", StringComparison.Ordinal) || where.EndsWith(".grr", StringComparison.Ordinal);
                Assert.True(ratio ? Math.Abs(e - a) <= 0.000001m : e == a, $"{where}: expected {e}, got {a}");
                break;
        }
    }
}
